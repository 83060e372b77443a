"""Helpers for the report tests: the JSON Schema validator, the independent
HdrHistogram decoder (Node + hdr-histogram-js), a scratch directory."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tap import ROOT

SCHEMA = os.path.join(ROOT, "tests", "e2e", "schema", "report-v1.json")
HDR_DECODE = os.path.join(ROOT, "tests", "e2e", "lib", "hdr_decode.js")


def need_jsonschema():
    """Imports jsonschema; Debian's python3-jsonschema lives in /usr/bin/python3,
    which may not be the python3 first on PATH: re-run under it then."""
    try:
        import jsonschema  # noqa: F401
        return jsonschema
    except ImportError:
        if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and \
                os.path.exists("/usr/bin/python3"):
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
        raise


def validate(doc):
    """Returns None when doc is valid, else the validator's message."""
    js = need_jsonschema()
    with open(SCHEMA) as f:
        schema = json.load(f)
    errors = sorted(js.Draft202012Validator(schema).iter_errors(doc), key=lambda e: e.path)
    return None if not errors else "\n".join(
        "%s: %s" % ("/".join(map(str, e.path)), e.message) for e in errors[:10])


def node_modules():
    for d in (os.environ.get("HDR_JS_MODULES"), os.path.join(ROOT, "build", "node", "node_modules")):
        if d and os.path.isdir(os.path.join(d, "hdr-histogram-js")):
            return d
    return None


def hdr_decode(*logs):
    """Decodes logs with hdr-histogram-js: {tag: {count, min, max, percentiles}}."""
    env = dict(os.environ, HDR_JS_MODULES=node_modules() or "")
    out = subprocess.run(["node", HDR_DECODE] + list(logs), capture_output=True, text=True,
                         timeout=60, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def scratch():
    return tempfile.mkdtemp(prefix="surge-report-")


def load(path):
    with open(path) as f:
        return json.load(f)


def have(cmd):
    return shutil.which(cmd) is not None
