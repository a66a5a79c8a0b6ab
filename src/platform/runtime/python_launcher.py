"""gale's python:3 action launcher (run by `gale __runtime python:3` as `python3 -u -c ...`).

The platform's side of the protocol is described in docs/platform.md ("Runtimes"):
- on start, write the ack line {"ok": true} on fd 3;
- the first stdin line may be {"init": {"code", "main", "binary", "env", "name"}}: compile
  the code, find the entry point, answer {"ok": true} or {"error": "..."} on fd 3;
- every other stdin line is a /run body: set the __OW_* environment, call main(value),
  write the sentinel line on stdout and stderr, then the JSON result on one line on fd 3.
Errors follow OpenWhisk's Python runtime: an exception in main gives {"error": str(exc)}
with the traceback on stderr; a failed init gives OpenWhisk's init message with the details
on stderr.
"""

import json
import os
import sys
import traceback

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
INIT_FAILED = "The action failed to generate or locate a binary. See logs for details."
NO_CODE = "Missing main/no code to execute."
TWICE = "Cannot initialize the action more than once."

out = os.fdopen(3, "wb")


def reply(obj):
    """End an exchange: sentinels on both log streams, then one result line on fd 3."""
    sys.stdout.write(SENTINEL + "\n")
    sys.stdout.flush()
    sys.stderr.write(SENTINEL + "\n")
    sys.stderr.flush()
    try:
        line = json.dumps(obj, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        # Not JSON-serialisable: the platform reports a line that is not JSON as the
        # developer error OpenWhisk gives for it.
        line = "not JSON: %s (%s)" % (repr(obj).replace("\n", " "), exc)
    out.write(line.encode("utf-8") + b"\n")
    out.flush()


def load(init):
    """Compile the action's code; return its entry point or raise with a reason."""
    code = init.get("code")
    if not code:
        raise LookupError(NO_CODE)
    name = init.get("main") or "main"
    for key, value in (init.get("env") or {}).items():
        os.environ[str(key)] = value if isinstance(value, str) else json.dumps(value)
    if init.get("binary"):
        # A zip archive with __main__.py at its top, as OpenWhisk accepts. Imported here:
        # every import is paid by each cold start.
        import base64, io, tempfile, zipfile
        where = tempfile.mkdtemp(prefix="gale-action-")
        zipfile.ZipFile(io.BytesIO(base64.b64decode(code))).extractall(where)
        sys.path.insert(0, where)
        os.chdir(where)
        with open(os.path.join(where, "__main__.py"), encoding="utf-8") as f:
            code = f.read()
        filename = os.path.join(where, "__main__.py")
    else:
        filename = "__main__.py"
    scope = {"__name__": "main__", "__file__": filename}
    exec(compile(code, filename, "exec"), scope)
    entry = scope.get(name)
    if not callable(entry):
        raise NameError("the action code defines no function `%s`" % name)
    return entry


def main():
    out.write(b'{"ok":true}\n')
    out.flush()
    entry = None
    initialised = False
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        try:
            msg = json.loads(line)
        except ValueError as exc:
            reply({"error": "bad activation input: %s" % exc})
            continue
        if not isinstance(msg, dict):
            reply({"error": "bad activation input: not a JSON object"})
            continue
        if "init" in msg:
            if initialised:
                reply({"error": TWICE})
                continue
            initialised = True
            try:
                entry = load(msg["init"] or {})
                reply({"ok": True})
            except LookupError as exc:
                reply({"error": str(exc)})
            except BaseException:
                traceback.print_exc(file=sys.stderr)
                reply({"error": INIT_FAILED})
            continue
        if entry is None:
            reply({"error": NO_CODE})
            continue
        value = {}
        for key, v in msg.items():
            if key == "value":
                value = v
            elif isinstance(v, str):
                os.environ["__OW_%s" % key.upper()] = v
        try:
            result = entry(value)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            result = {"error": str(exc)}
        reply(result)


main()
