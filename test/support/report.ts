/**
 * A test's measurements (corpus sizes, heap before and after): printed only with
 * TEST_REPORT=1, so that a passing `npm test` shows nothing but Jest's summary.
 */
export function report(line: string): void {
  if (process.env.TEST_REPORT) console.log(line);
}
