// gale's nodejs:20 action launcher (run by `gale __runtime nodejs:20` as `node -e ...`).
//
// The platform's side of the protocol is described in docs/platform.md ("Runtimes"):
// - on start, write the ack line {"ok":true} on fd 3;
// - the first stdin line may be {"init": {"code", "main", "binary", "env", "name",
//   "concurrency"}}: load the code, find the entry point, answer {"ok":true} or
//   {"error":"..."} on fd 3;
// - every other stdin line is a /run body: set the __OW_* environment, call main(value),
//   write the sentinel line on stdout and stderr, then the result on one line on fd 3.
// Outcomes follow OpenWhisk's Node.js runtime (openwhisk-runtime-nodejs service.js and
// runner.js): a value or a resolved Promise is the result ({} for undefined); a rejected
// Promise is an application error {"error": <the reason, serialised>}; a synchronous throw
// and a result that is not an object are developer errors. A developer error is sent as
// the result line prefixed with "!" (never valid JSON, so never mistaken for a result).
//
// With "concurrency" above 1 at init, runs overlap (OpenWhisk's __OW_ALLOW_CONCURRENT): each
// run line is handled as it arrives, and every output line is tagged with the activation id
// it belongs to ("<id> <text>" on stdout/stderr, "<id> <result>" on fd 3, "<id> <sentinel>"
// per activation), found through AsyncLocalStorage, so logs stay attributed. Output of no
// activation (a timer armed at load time) is tagged "-".
'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');
const zlib = require('zlib');
const os = require('os');
const { AsyncLocalStorage } = require('async_hooks');
const { createRequire } = require('module');

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX';
const NO_CODE = 'Missing main/no code to execute.';
const TWICE = 'Cannot initialize the action more than once.';
const RESULTS_FD = 3;

let entry = null;
let initialised = false;
let concurrent = false;
const current = new AsyncLocalStorage();

function writeAll(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    off += fs.writeSync(fd, buf, off, buf.length - off);
  }
}

// The original writers, before concurrent mode wraps them.
const rawOut = process.stdout.write.bind(process.stdout);
const rawErr = process.stderr.write.bind(process.stderr);

// End an exchange: sentinels on both log streams, then one result line on fd 3. `failed`
// marks a developer error; `id` tags the lines in concurrent mode.
function reply(obj, failed, id) {
  let line;
  try {
    line = JSON.stringify(obj);
    if (line === undefined) {
      throw new TypeError('the value has no JSON form');
    }
  } catch (e) {
    line = JSON.stringify({ error: `An error has occurred: ${e}` });
    failed = true;
  }
  const prefix = id === undefined ? '' : id + ' ';
  if (id !== undefined) {
    flushPartial(id);
  }
  rawOut(prefix + SENTINEL + '\n');
  rawErr(prefix + SENTINEL + '\n');
  writeAll(RESULTS_FD, prefix + (failed ? '!' : '') + line + '\n');
}

// Concurrent mode: split writes into lines and tag each with its activation id. A line
// still open when its activation ends is closed then.
const partial = new Map();

function tagWrites(stream, raw) {
  stream.write = function (chunk, encoding, callback) {
    const id = current.getStore() || '-';
    let text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const key = id + (stream === process.stdout ? '\u0001' : '\u0002');
    const open = partial.get(key);
    if (open !== undefined) {
      text = open.text + text;
    }
    const lines = text.split('\n');
    const rest = lines.pop();
    if (rest === '') {
      partial.delete(key);
    } else {
      partial.set(key, { raw, id, text: rest });
    }
    const whole = lines.map((l) => id + ' ' + l + '\n').join('');
    if (typeof encoding === 'function') {
      callback = encoding;
    }
    if (whole === '') {
      if (callback) process.nextTick(callback);
      return true;
    }
    return raw(whole, callback);
  };
}

function flushPartial(id) {
  for (const suffix of ['\u0001', '\u0002']) {
    const open = partial.get(id + suffix);
    if (open !== undefined) {
      partial.delete(id + suffix);
      open.raw(id + ' ' + open.text + '\n');
    }
  }
}

// serialize-error's shape for a rejection reason: an Error becomes {name, message, stack,
// ...its own fields}; cycles become "[Circular]"; functions are dropped.
function serializeError(value, seen) {
  if (typeof value === 'function') {
    return `[Function: ${value.name || 'anonymous'}]`;
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  seen = seen || new WeakSet();
  if (seen.has(value)) {
    return '[Circular]';
  }
  seen.add(value);
  if (typeof value.toJSON === 'function') {
    return value.toJSON();
  }
  if (Buffer.isBuffer(value)) {
    return '[object Buffer]';
  }
  const out = Array.isArray(value) ? [] : {};
  if (value instanceof Error) {
    for (const key of ['name', 'message', 'stack', 'code', 'cause']) {
      if (value[key] !== undefined) {
        out[key] = serializeError(value[key], seen);
      }
    }
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'function') {
      out[key] = serializeError(v, seen);
    }
  }
  return out;
}

// Extract a zip archive (stored or deflated entries, no zip64) into `dir`.
function unzip(buf, dir) {
  let end = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    throw new Error('the action archive is not a zip file');
  }
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) {
      throw new Error('the action archive has a corrupt central directory');
    }
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const skip = nameLen + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    at += 46 + skip;
    const target = path.resolve(dir, name);
    if (target !== dir && !target.startsWith(dir + path.sep)) {
      throw new Error(`the action archive's entry ${name} points outside it`);
    }
    if (name.endsWith('/')) {
      fs.mkdirSync(target, { recursive: true });
      continue;
    }
    if (size === 0xffffffff || buf.readUInt32LE(local) !== 0x04034b50) {
      throw new Error(`the action archive's entry ${name} is zip64 or corrupt`);
    }
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + size);
    let bytes;
    if (method === 0) {
      bytes = data;
    } else if (method === 8) {
      bytes = zlib.inflateRawSync(data);
    } else {
      throw new Error(`the action archive's entry ${name} uses compression method ${method}`);
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, bytes);
  }
}

// The entry point of the action's code, or a throw with the reason.
function load(init) {
  const main = init.main || 'main';
  for (const [key, value] of Object.entries(init.env || {})) {
    process.env[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  let handler;
  if (init.binary) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gale-action-'));
    unzip(Buffer.from(init.code, 'base64'), dir);
    if (!fs.existsSync(path.join(dir, 'package.json')) && !fs.existsSync(path.join(dir, 'index.js'))) {
      throw 'Zipped actions must contain either package.json or index.js at the root.';
    }
    process.chdir(dir);
    handler = require(dir)[main];
  } else {
    // The code is a function body with CommonJS's names in scope, so both `function main`
    // and `exports.main = …` define the entry point.
    // Stack traces name the action (`/guest/hello.js:3`); `require` resolves from the
    // working directory.
    const module = { exports: {} };
    const filename = (init.name || 'action') + '.js';
    const named = /^[A-Za-z_$][\w$]*$/.test(main);
    const tail = named ? `\n;return typeof ${main} === 'undefined' ? undefined : ${main};` : '';
    const body = vm.compileFunction(init.code + tail, ['exports', 'require', 'module', '__filename', '__dirname'], {
      filename,
    });
    const from = createRequire(path.join(process.cwd(), 'index.js'));
    handler = body(module.exports, from, module, filename, path.dirname(filename));
    if (handler === undefined) {
      handler = module.exports[main];
    }
  }
  if (typeof handler !== 'function') {
    throw `Action entrypoint '${main}' is not a function.`;
  }
  return handler;
}

function initialise(init) {
  if (initialised) {
    return reply({ error: TWICE });
  }
  initialised = true;
  if (!init || typeof init.code !== 'string' || init.code === '') {
    return reply({ error: NO_CODE });
  }
  try {
    entry = load(init);
  } catch (e) {
    console.error('Error during initialization:', e);
    // Node decorates a compile error's stack with the source line and a caret before the
    // `SyntaxError: …` line; OpenWhisk's eval-based loader shows no such prefix.
    let reason = e && e.stack ? String(e.stack) : String(e);
    const named = e instanceof Error ? reason.indexOf(`${e.name}: `) : -1;
    if (named > 0) {
      reason = reason.slice(named);
    }
    return reply({ error: `Initialization has failed due to: ${reason}` });
  }
  if ((init.concurrency || 1) > 1) {
    concurrent = true;
    tagWrites(process.stdout, rawOut);
    tagWrites(process.stderr, rawErr);
  }
  reply({ ok: true });
}

// Run one activation; resolves once its reply is written.
function run(msg) {
  const id = concurrent ? String(msg.activation_id) : undefined;
  if (entry === null) {
    reply({ error: 'System not initialized.' }, true, id);
    return Promise.resolve();
  }
  for (const [key, value] of Object.entries(msg)) {
    if (key !== 'value' && typeof value === 'string') {
      process.env['__OW_' + key.toUpperCase()] = value;
    }
  }
  const value = msg.value === undefined || msg.value === null ? {} : msg.value;
  const call = () => {
    let returned;
    try {
      returned = entry(value);
    } catch (e) {
      console.error(e);
      reply({ error: `An error has occurred: ${e}` }, true, id);
      return Promise.resolve();
    }
    return Promise.resolve(returned)
      .then(
        (result) => (result === undefined ? {} : result),
        (reason) => ({ error: reason ? serializeError(reason) : {} }),
      )
      .then((result) => {
        if (typeof result !== 'object') {
          console.error(`Result must be of type object but has type "${typeof result}":`, result);
          reply({ error: 'The action did not return a dictionary.' }, true, id);
        } else {
          reply(result, false, id);
        }
      })
      .catch((e) => {
        // Only the launcher's own steps get here (logging a strange value, say): the
        // activation still gets its one answer.
        reply({ error: `An error has occurred: ${e}` }, true, id);
      });
  };
  return id === undefined ? call() : current.run(id, call);
}

// Exclusive mode runs one line at a time (the platform sends the next only after the
// result anyway); concurrent mode starts each run as soon as its line arrives.
let queue = Promise.resolve();

function handle(line) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    reply({ error: `bad activation input: ${e.message}` });
    return;
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    reply({ error: 'bad activation input: not a JSON object' });
    return;
  }
  // A step that fails must not stop the ones queued after it.
  const ignore = () => {};
  if ('init' in msg) {
    queue = queue.then(() => initialise(msg.init)).catch(ignore);
  } else if (concurrent) {
    run(msg).catch(ignore);
  } else {
    queue = queue.then(() => run(msg)).catch(ignore);
  }
}

writeAll(RESULTS_FD, '{"ok":true}\n');
let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (line.trim() !== '') {
      handle(line);
    }
  }
});
process.stdin.on('end', () => process.exit(0));
