// The official `openwhisk` npm client against `gale platform`.
// Environment: __OW_API_HOST (with http://), __OW_API_KEY; GALE_LIMITED_API_HOST names a
// second platform started with --invocations-per-minute 2 (for the 429 case). The platform
// under __OW_API_HOST must run with --max-blocking-wait 1s.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const openwhisk = require('openwhisk');

const apihost = process.env.__OW_API_HOST;
const apiKey = process.env.__OW_API_KEY;
if (!apihost || !apiKey) {
  throw new Error('set __OW_API_HOST (http://HOST:PORT) and __OW_API_KEY');
}
const ow = openwhisk({ apihost, api_key: apiKey });
const kind = 'gale:synthetic';
const unique = (base) => `${base}-${process.pid}-${Math.floor(Math.random() * 1e9)}`;

async function poll(activationId, ms = 10000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await ow.activations.get({ activationId });
    } catch (err) {
      if (err.statusCode !== 404 || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

test('namespaces.list returns the guest namespace', async () => {
  assert.deepEqual(await ow.namespaces.list(), ['guest']);
});

test('create, get, list, update, delete an action', async () => {
  const name = unique('crud');
  const created = await ow.actions.create({
    name, action: '', kind, params: { cpu_ms: 1 }, limits: { memory: 128 },
  });
  assert.equal(created.name, name);
  assert.equal(created.namespace, 'guest');
  assert.equal(created.exec.kind, kind);
  assert.equal(created.version, '0.0.1');
  assert.deepEqual(created.parameters, [{ key: 'cpu_ms', value: 1 }]);
  assert.equal(created.limits.memory, 128);

  const got = await ow.actions.get({ name });
  assert.equal(got.name, name);
  assert.ok(got.annotations.some((a) => a.key === 'exec' && a.value === kind));

  const list = await ow.actions.list();
  assert.ok(list.some((a) => a.name === name && a.namespace === 'guest'));
  const limited = await ow.actions.list({ limit: 1 });
  assert.equal(limited.length, 1);

  const updated = await ow.actions.update({ name, action: 'code', kind, limits: { timeout: 5000 } });
  assert.equal(updated.version, '0.0.2');
  assert.equal(updated.exec.code, 'code');
  assert.equal(updated.limits.timeout, 5000);

  const deleted = await ow.actions.delete({ name });
  assert.equal(deleted.name, name);
  await assert.rejects(ow.actions.get({ name }), (err) => err.statusCode === 404);
});

test('error statuses: duplicate 409, missing 404, bad key 401, unsupported kind 400', async () => {
  const name = unique('dup');
  await ow.actions.create({ name, action: '', kind });
  await assert.rejects(ow.actions.create({ name, action: '', kind }), (err) => {
    assert.equal(err.statusCode, 409);
    assert.match(err.message, /resource already exists/);
    return true;
  });
  await assert.rejects(ow.actions.invoke({ name: unique('missing') }), (err) => err.statusCode === 404);
  await assert.rejects(ow.actions.delete({ name: unique('missing') }), (err) => err.statusCode === 404);
  const bad = openwhisk({ apihost, api_key: apiKey.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x')) });
  await assert.rejects(bad.actions.list(), (err) => {
    assert.equal(err.statusCode, 401);
    assert.match(err.message, /The supplied authentication is invalid/);
    return true;
  });
  await assert.rejects(ow.actions.create({ name: unique('java'), action: 'x', kind: 'java:8' }), (err) => {
    assert.equal(err.statusCode, 400);
    assert.match(err.message, /The specified runtime 'java:8' is not supported by this platform/);
    return true;
  });
  await ow.actions.delete({ name });
});

test("the client's default kind (nodejs:default) runs JavaScript", async () => {
  const name = unique('node');
  const created = await ow.actions.create({
    name,
    action: 'function main(params) { return { hello: params.who || "world" }; }',
  });
  assert.equal(created.exec.kind, 'nodejs:20');
  const result = await ow.actions.invoke({ name, blocking: true, result: true, params: { who: 'gale' } });
  assert.deepEqual(result, { hello: 'gale' });
  await ow.actions.delete({ name });
});

test('invoke: non-blocking, blocking, result, application error, demotion', async () => {
  const name = unique('inv');
  await ow.actions.create({ name, action: '', kind, params: { sleep_ms: 1 } });

  const started = await ow.actions.invoke({ name, params: { stdout: 'hello from gale' } });
  assert.match(started.activationId, /^[0-9a-f]{32}$/);
  const activation = await poll(started.activationId);
  assert.equal(activation.activationId, started.activationId);
  assert.equal(activation.response.success, true);

  const blocking = await ow.actions.invoke({ name, blocking: true, params: { cpu_ms: 2 } });
  assert.equal(blocking.response.success, true);
  assert.equal(blocking.response.status, 'success');
  assert.equal(blocking.response.result.cpu_ms, 2);
  assert.equal(blocking.response.result.sleep_ms, 1, 'default parameter merged');

  const result = await ow.actions.invoke({ name, blocking: true, result: true, params: { cpu_ms: 3 } });
  assert.equal(result.cpu_ms, 3);
  assert.ok(result.burned_cpu_ns >= 3e6);

  await assert.rejects(ow.actions.invoke({ name, blocking: true, params: { error: 'boom' } }), (err) => {
    assert.equal(err.statusCode, 502);
    assert.match(err.message, /boom/);
    assert.equal(err.error.response.status, 'application error');
    return true;
  });

  // The platform waits at most 1 s: a 2 s activation answers 202 {activationId}.
  const demoted = await ow.actions.invoke({ name, blocking: true, params: { sleep_ms: 2000 } });
  assert.match(demoted.activationId, /^[0-9a-f]{32}$/);
  assert.equal(demoted.response, undefined);
  await assert.rejects(
    ow.actions.invoke({ name, blocking: true, result: true, params: { sleep_ms: 2000 } }),
    (err) => typeof err.activationId === 'string',
  );
  const finished = await poll(demoted.activationId, 15000);
  assert.equal(finished.response.result.sleep_ms, 2000);

  // activations list / result / logs
  const docs = await ow.activations.list({ name, limit: 2, docs: true });
  assert.equal(docs.length, 2);
  assert.ok(docs[0].response);
  const summaries = await ow.activations.list({ name });
  assert.ok(summaries.length >= 4);
  assert.ok(summaries.every((a) => a.name === name && 'statusCode' in a && !a.response));
  const res = await ow.activations.result({ activationId: started.activationId });
  assert.equal(res.success, true);
  assert.equal(res.status, 'success');
  assert.equal(typeof res.result, 'object');
  const logs = await ow.activations.logs({ activationId: started.activationId });
  assert.ok(logs.logs.some((l) => /stdout: hello from gale$/.test(l)), JSON.stringify(logs));

  await ow.actions.delete({ name });
});

test('a body over 1 MiB is refused with 413', async () => {
  const name = unique('big');
  await ow.actions.create({ name, action: '', kind });
  const filler = 'a'.repeat(1048577 - '{"x":""}'.length);
  await assert.rejects(ow.actions.invoke({ name, params: { x: filler } }), (err) => {
    assert.equal(err.statusCode, 413);
    assert.match(err.message, /Request larger than allowed: 1048577 > 1048576 bytes\./);
    return true;
  });
  await ow.actions.delete({ name });
});

test('a low per-minute limit answers 429', { skip: !process.env.GALE_LIMITED_API_HOST }, async () => {
  const limited = openwhisk({ apihost: process.env.GALE_LIMITED_API_HOST, api_key: apiKey });
  const name = unique('rate');
  await limited.actions.create({ name, action: '', kind });
  let refused;
  for (let i = 0; i < 5 && !refused; i += 1) {
    try {
      await limited.actions.invoke({ name, blocking: true });
    } catch (err) {
      refused = err;
    }
  }
  assert.ok(refused, 'a call was refused');
  assert.equal(refused.statusCode, 429);
  assert.match(refused.message, /Too many requests in the last minute \(count: \d+, allowed: \d+\)\./);
});

const echo = { kind: 'python:3', action: 'def main(p):\n    return p\n' };

test('packages: create, get, list, actions inside, parameters, binding, delete', async () => {
  const pkg = unique('pkg');
  const created = await ow.packages.create({
    name: pkg,
    package: { parameters: [{ key: 'a', value: 'pkg' }, { key: 'b', value: 'pkg' }], publish: true },
  });
  assert.equal(created.name, pkg);
  assert.deepEqual(created.binding, {});
  await ow.actions.create({ name: `${pkg}/echo`, ...echo, params: { b: 'action' } });

  const got = await ow.packages.get({ name: pkg });
  assert.deepEqual(got.actions.map((a) => a.name), ['echo']);
  const list = await ow.packages.list();
  assert.ok(list.some((p) => p.name === pkg));
  const inside = await ow.actions.get({ name: `${pkg}/echo` });
  assert.equal(inside.namespace, `guest/${pkg}`);

  const result = await ow.actions.invoke({ name: `${pkg}/echo`, blocking: true, result: true, params: { c: 'call' } });
  assert.deepEqual([result.a, result.b, result.c], ['pkg', 'action', 'call']);

  const bound = unique('bound');
  await ow.packages.create({
    name: bound,
    package: { binding: { namespace: 'guest', name: pkg }, parameters: [{ key: 'a', value: 'binding' }] },
  });
  const viaBinding = await ow.actions.invoke({ name: `${bound}/echo`, blocking: true, result: true });
  assert.deepEqual([viaBinding.a, viaBinding.b], ['binding', 'action']);

  await assert.rejects(ow.packages.delete({ name: pkg }), (err) => err.statusCode === 409);
  await ow.packages.delete({ name: bound });
  await ow.actions.delete({ name: `${pkg}/echo` });
  await ow.packages.delete({ name: pkg });
  await assert.rejects(ow.packages.get({ name: pkg }), (err) => err.statusCode === 404);
});

test('sequences: create with components, blocking invoke chains the results', async () => {
  const step = unique('step');
  await ow.actions.create({
    name: step, kind: 'python:3', action: 'def main(p):\n    return {"n": p.get("n", 0) + 1}\n',
  });
  const seq = unique('seq');
  const created = await ow.actions.create({ name: seq, sequence: [`/guest/${step}`, `/_/${step}`, `/guest/${step}`] });
  assert.equal(created.exec.kind, 'sequence');
  assert.deepEqual(created.exec.components, [`/guest/${step}`, `/guest/${step}`, `/guest/${step}`]);
  const activation = await ow.actions.invoke({ name: seq, blocking: true, params: { n: 1 } });
  assert.deepEqual(activation.response.result, { n: 4 });
  assert.equal(activation.logs.length, 3);
  const component = await poll(activation.logs[0]);
  assert.equal(component.cause, activation.activationId);
  assert.equal(await ow.actions.invoke({ name: seq, blocking: true, result: true, params: { n: 10 } }).then((r) => r.n), 13);
  await ow.actions.delete({ name: seq });
  await ow.actions.delete({ name: step });
});

test('triggers and rules: fire starts the active rules\' actions', async () => {
  const action = unique('target');
  await ow.actions.create({ name: action, ...echo });
  const trigger = unique('trig');
  const t = await ow.triggers.create({ name: trigger, trigger: { parameters: [{ key: 'from', value: 'trigger' }] } });
  assert.equal(t.name, trigger);
  const rule = unique('rule');
  const r = await ow.rules.create({ name: rule, action, trigger });
  assert.equal(r.status, 'active');
  assert.deepEqual(r.trigger, { path: 'guest', name: trigger });
  assert.ok((await ow.rules.list()).some((x) => x.name === rule));
  assert.ok((await ow.triggers.list()).some((x) => x.name === trigger));

  const fired = await ow.triggers.invoke({ name: trigger, params: { payload: 1 } });
  assert.match(fired.activationId, /^[0-9a-f]{32}$/);
  const record = await poll(fired.activationId);
  const entry = JSON.parse(record.logs[0]);
  assert.equal(entry.success, true);
  const started = await poll(entry.activationId, 20000);
  assert.deepEqual(started.response.result, { from: 'trigger', payload: 1 });

  await ow.rules.disable({ name: rule });
  assert.equal((await ow.rules.get({ name: rule })).status, 'inactive');
  const none = await ow.triggers.invoke({ name: trigger });
  assert.equal(none.activationId, undefined, 'no active rule: 204, nothing started');
  await ow.rules.enable({ name: rule });
  assert.equal((await ow.triggers.get({ name: trigger })).rules[`guest/${rule}`].status, 'active');

  await ow.rules.delete({ name: rule });
  await ow.triggers.delete({ name: trigger });
  await ow.actions.delete({ name: action });
  await assert.rejects(ow.triggers.get({ name: trigger }), (err) => err.statusCode === 404);
});
