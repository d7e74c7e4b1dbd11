import type { SettingAudience, SettingRow } from '../api/settings.js';
import { fitColumns, TEXT_WIDTH, wrapText } from './text-table.js';

/** The headings `--help-env` groups the variables under, in order. */
export const SETTING_GROUPS: Readonly<Record<SettingAudience, string>> = {
  users: 'For everyone:',
  sweeps: 'For sweeps on a queue (tlpipe sweep --queue, tlpipe worker):',
  developers: "For tlpipe's developers (comparisons and profiling):",
};

/** `tlpipe --help-env`: the variables by whom they are for, then those only tlpipe's test suite reads. */
export function formatSettings(rows: readonly SettingRow[], testSuite: readonly Omit<SettingRow, 'for'>[]): string {
  // One set of column widths for every group, so that the groups line up.
  const all = [...rows, ...testSuite];
  const nameWidth = Math.max(...all.map((r) => r.name.length));
  const defaultWidth = Math.max(...all.map((r) => r.default.length));
  const table = (group: readonly Omit<SettingRow, 'for'>[]): string[] =>
    fitColumns(
      [['variable', 'default', 'what it sets'], ...group.map((r) => [r.name, r.default, r.description])].map(
        ([name, shown, description]) => [`  ${name!.padEnd(nameWidth)}`, shown!.padEnd(defaultWidth), description!],
      ),
    );
  const sections = (Object.keys(SETTING_GROUPS) as SettingAudience[]).map((audience) =>
    [SETTING_GROUPS[audience], ...table(rows.filter((r) => r.for === audience))].join('\n'),
  );
  return [
    wrapText(
      'Environment variables tlpipe reads. Unset or empty means the default; a value a variable does not take is an error (exit 2) before a command starts.',
      TEXT_WIDTH,
    ).join('\n'),
    ...sections,
    ["Read only by tlpipe's own test suite (test/, .ci/run):", ...table(testSuite)].join('\n'),
  ].join('\n\n');
}
