/**
 * Hello: a greeting, optionally after an asynchronous wait (a stand-in for I/O such as a
 * database call), so that activations of a container with `limits.concurrency` above 1
 * overlap in one process. Kind `nodejs:20` (OpenWhisk's `nodejs:default`).
 *
 * Parameters:
 *   name      (string, default "stranger") who to greet
 *   delay_ms  (number, default 0, 0..60000) resolve after this long (main returns a Promise)
 *
 * Result: {"greeting", "delay_ms", "pid"}; a bad parameter gives {"error": ...}.
 */
function main(params) {
  const name = params.name === undefined ? 'stranger' : params.name;
  const delay = params.delay_ms === undefined ? 0 : params.delay_ms;
  if (typeof name !== 'string') {
    return { error: 'name must be a string' };
  }
  if (typeof delay !== 'number' || !(delay >= 0 && delay <= 60000)) {
    return { error: 'delay_ms must be a number between 0 and 60000' };
  }
  const result = { greeting: `Hello, ${name}!`, delay_ms: delay, pid: process.pid };
  console.log(`greeting ${name}`);
  if (delay === 0) {
    return result;
  }
  return new Promise((resolve) => setTimeout(() => resolve(result), delay));
}
