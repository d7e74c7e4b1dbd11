/** The TLPIPE_* environment variables: what the CLI lists with --help-env and checks before a command starts. */
export {
  settingProblems,
  settingsTable,
  TEST_SUITE_VARIABLES,
  type SettingAudience,
  type SettingProblem,
  type SettingRow,
} from '../platform/settings.js';
