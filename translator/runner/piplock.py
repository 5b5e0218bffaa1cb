"""`python3 -m pip ...` in a `translate run` environment: pip, one at a time, and no pip at all when
it would do nothing.

KFP starts every step with `pip install --quiet ... 'kfp==X' --no-deps` (and the component's
`packages_to_install`). Once an environment has those, pip only finds them installed and prints
nothing, yet costs about 0.9 CPU-s a step. This script answers exactly that case itself: an
`install` of plain requirements, quiet, with only options that do not change what an installed
requirement means (no upgrade, target, user or config that could), every requirement (and,
without --no-deps, every dependency) already installed at a matching version. Anything else runs
pip. It runs as a file in the environment (copied there by venvs.py), so it uses the standard
library and pip's own vendored `packaging` only.
"""
import configparser
import fcntl
import os
import runpy
import sys

# Options that leave an installed requirement's meaning alone: where to look (never consulted
# when nothing is missing), output and network knobs.
_FLAGS = {"-q", "--quiet", "--no-warn-script-location", "--no-deps", "--disable-pip-version-check",
          "--no-cache-dir", "--no-input", "--prefer-binary", "--no-index", "--no-color",
          "--break-system-packages", "--no-compile", "--compile"}
_VALUED = {"-i", "--index-url", "--extra-index-url", "--trusted-host", "-f", "--find-links",
           "--progress-bar", "--timeout", "--retries", "--cache-dir", "--root-user-action", "--cert",
           "--proxy"}
_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR", "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_NO_INDEX", "PIP_FIND_LINKS",
        "PIP_NO_WARN_SCRIPT_LOCATION", "PIP_COMPILE", "PIP_NO_COMPILE", "PIP_QUIET", "PIP_PROGRESS_BAR",
        "PIP_ROOT_USER_ACTION", "PIP_DEFAULT_TIMEOUT", "PIP_TIMEOUT", "PIP_RETRIES", "PIP_NO_INPUT",
        "PIP_PREFER_BINARY", "PIP_BREAK_SYSTEM_PACKAGES", "PIP_CERT", "PIP_PROXY", "PIP_NO_COLOR"}
_CONFIG_KEYS = {name[4:].lower().replace("_", "-") for name in _ENV}


def _config_files():
    home = os.path.expanduser("~")
    dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    yield from (os.path.join(d, "pip", "pip.conf") for d in dirs)
    yield "/etc/pip.conf"
    yield os.path.join(home, ".pip", "pip.conf")
    yield os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "pip", "pip.conf")
    yield os.path.join(sys.prefix, "pip.conf")


def _settings_allow_it():
    """No environment variable or config file asks pip for more than the options above allow."""
    if any(k.startswith("PIP_") and k not in _ENV for k in os.environ) or os.environ.get("PIP_CONFIG_FILE"):
        return False
    for path in _config_files():
        if not os.path.isfile(path):
            continue
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except (configparser.Error, OSError, UnicodeDecodeError):
            return False
        if any(key not in _CONFIG_KEYS for section in parser.sections() for key in parser[section]):
            return False
    return True


def _parse(args):
    """(requirement texts, quiet, with dependencies) of a plain install, or None."""
    if not args or args[0] != "install":
        return None
    texts, quiet, deps, rest = [], bool(os.environ.get("PIP_QUIET")), True, iter(args[1:])
    for arg in rest:
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        if name in _VALUED:
            if "=" not in arg:
                next(rest, None)
        elif arg.startswith("-"):
            if arg not in _FLAGS:
                return None
            quiet = quiet or arg in ("-q", "--quiet")
            deps = deps and arg != "--no-deps"
        else:
            texts.append(arg)
    return (texts, quiet, deps) if texts else None


def _installed(requirement, deps, seen):
    from importlib import metadata

    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

    try:
        dist = metadata.distribution(requirement.name)
    except metadata.PackageNotFoundError:
        return False
    if not requirement.specifier.contains(dist.version, prereleases=True):
        return False
    if not deps:
        return True
    extras = [""] + sorted(requirement.extras)
    for text in dist.requires or []:
        dep = Requirement(text)
        if dep.url:
            return False
        if dep.marker and not any(dep.marker.evaluate({"extra": e}) for e in extras):
            continue
        key = (canonicalize_name(dep.name), str(dep.specifier), tuple(sorted(dep.extras)))
        if key not in seen:
            seen.add(key)
            if not _installed(dep, True, seen):
                return False
    return True


def nothing_to_do(args):
    """Whether `pip <args>` would install nothing and print nothing here."""
    parsed = _parse(args)
    if parsed is None or not parsed[1] or not _settings_allow_it():
        return False
    texts, _, deps = parsed
    try:
        from pip._vendor.packaging.requirements import InvalidRequirement, Requirement

        requirements = [Requirement(text) for text in texts]
    except (ImportError, InvalidRequirement):
        return False
    for requirement in requirements:
        if requirement.url:
            return False
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue  # pip ignores it (its "Ignoring ..." line is not shown when quiet)
        if not _installed(requirement, deps, set()):
            return False
    return True


def main(argv):
    """argv: this script's arguments, `-m pip ARGS...` as the python3 wrapper passes them."""
    lock = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, ".pip.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    args = argv[2:]
    try:
        skip = nothing_to_do(args)
    except Exception:  # noqa: BLE001 - any doubt: let pip decide
        skip = False
    if skip:
        return 0
    sys.argv = ["pip"] + args
    runpy.run_module("pip", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
