/**
 * Strings that come from files (class names, image names, messages that
 * quote them) as a terminal may show them: a class name holding ESC or BEL
 * could otherwise move the cursor, retitle the window (an OSC sequence) or
 * ring; a right-to-left override could make a name read as another. Each
 * such character is shown escaped (`\x1b`, `\u202e`). JSON output never
 * goes through here: it stays exact.
 */

/** C0 and C1 controls, DEL, and the bidi and line-separator characters that reorder or break what is shown. */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same, but newline and tab kept: for text tlpipe composed of several lines. */
const UNSAFE_IN_LINES = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escaped = (c: string): string => {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** One value on one line: every control character escaped, newlines included. */
export const terminalText = (text: string): string => text.replace(UNSAFE, escaped);

/** Text of several lines (a diagnostic, a report): control characters escaped, newlines and tabs kept. */
export const terminalLines = (text: string): string => text.replace(UNSAFE_IN_LINES, escaped);
