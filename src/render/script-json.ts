/** JSON inside a <script> element: `</script>` or `<!--` in a value cannot end or change it. */
export const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');
