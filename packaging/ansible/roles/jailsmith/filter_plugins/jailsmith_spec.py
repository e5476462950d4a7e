"""Filters of the jailsmith role that read a jailsmith spec on the controller.

jailsmith_key_files: the key files a spec's [[user]] entries name by a path relative to
the spec (`keys = ["keys/upload1.pub"]`), which the role copies beside the spec on the host.
Key texts and absolute paths (files already on the host) are not listed; a relative path
with a `..` component is refused, so nothing is copied outside the spec's directory.
"""

try:
    import tomllib  # Python >= 3.11
except ImportError:  # pragma: no cover - older controllers
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

from ansible.errors import AnsibleFilterError


def _is_key_text(entry):
    """The rule of jailsmith's spec::is_key_text: a key text has a space inside."""
    return any(c.isspace() for c in entry.strip())


def jailsmith_key_files(spec_text, spec_name="the spec"):
    if tomllib is None:
        raise AnsibleFilterError(
            "the jailsmith role reads the spec's key files with Python's tomllib "
            "(Python 3.11 or later on the controller) or the tomli package: install tomli"
        )
    try:
        spec = tomllib.loads(spec_text)
    except tomllib.TOMLDecodeError as e:
        raise AnsibleFilterError("%s is not valid TOML: %s" % (spec_name, e))
    files = []
    for user in spec.get("user", []):
        if not isinstance(user, dict):
            continue
        name = user.get("name", "?")
        for key in user.get("keys", []):
            if not isinstance(key, str) or not key.strip() or _is_key_text(key) or key.startswith("/"):
                continue
            if ".." in key.split("/"):
                raise AnsibleFilterError(
                    "%s: user %s: key file %s leaves the spec's directory; place it "
                    "beside the spec (e.g. keys/NAME.pub) or give an absolute path on the host"
                    % (spec_name, name, key)
                )
            if key not in files:
                files.append(key)
    return files


class FilterModule(object):
    def filters(self):
        return {"jailsmith_key_files": jailsmith_key_files}
