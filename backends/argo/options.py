"""Checks of the output options before anything is emitted: an option that would do nothing, or
a value Kubernetes or Argo refuses at submit time, is a one-line error now (not only under
`--lint`, not only on the cluster). The rules are Kubernetes' object-name rules and the ones
Argo's controller applies (`workflow/validate`, robfig/cron's standard parser, Go durations)."""
from __future__ import annotations

import re
import zoneinfo

from translator.errors import TranslateError

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL = re.compile(rf"^{_LABEL}$")
DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
GO_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$")
MAX_NAME = {"Workflow": 63, "WorkflowTemplate": 63, "CronWorkflow": 52}  # Argo's validate.go
POLICIES = ("Allow", "Forbid", "Replace")


def _bad(flag: str, message: str) -> TranslateError:
    return TranslateError(message, element=flag)


def check_subdomain(value: str, flag: str, max_len: int = 253) -> None:
    if not DNS_SUBDOMAIN.match(value) or len(value) > max_len:
        raise _bad(flag, f"{value!r} is not a valid Kubernetes name (lower-case letters, digits, '-' and '.', "
                         f"starting and ending with a letter or digit, at most {max_len} characters)")


def check_generate_name(prefix: str, flag: str) -> None:
    # Kubernetes checks a generateName with its trailing dashes masked (the random part follows).
    masked = re.sub(r"-+$", lambda mt: "a" * len(mt.group()), prefix)
    if not prefix or not DNS_SUBDOMAIN.match(masked) or len(prefix) > 253:
        raise _bad(flag, f"{prefix!r} is not a valid name prefix (lower-case letters, digits, '-' and '.')")


def check_duration(value: str, flag: str) -> None:
    if not GO_DURATION.match(value):
        raise _bad(flag, f"{value!r} is not a Go duration such as 720h, 30m or 1h30m (no days)")


def check_timezone(value: str, flag: str) -> None:
    if value in ("UTC", "Local"):
        return
    try:
        if ".." in value or value.startswith("/"):
            raise ValueError
        zoneinfo.ZoneInfo(value)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError, OSError):
        raise _bad(flag, f"{value!r} is not an IANA time zone such as Europe/Berlin or UTC") from None


# --- robfig/cron ParseStandard ------------------------------------------------------------------

_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
           ("month", 1, 12, _MONTHS), ("day of week", 0, 6, _DAYS))


def _cron_number(text: str, names: dict[str, int], what: str) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number in the {what} field")
    return int(text)


def _cron_field(text: str, what: str, low: int, high: int, names: dict[str, int]) -> None:
    for part in text.split(","):
        span, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"step {step!r} in the {what} field is not a positive number")
        if span in ("*", "?"):
            continue
        first, dash, last = span.partition("-")
        start = _cron_number(first, names, what)
        end = _cron_number(last, names, what) if dash else start
        if start < low or end > high:
            raise ValueError(f"{span!r} is outside {low}-{high} in the {what} field")
        if start > end:
            raise ValueError(f"range {span!r} in the {what} field ends before it starts")


def check_schedule(value: str, flag: str) -> None:
    text = value.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        zone, _, text = text.partition(" ")
        check_timezone(zone.split("=", 1)[1], flag)
        text = text.strip()
    try:
        if text.startswith("@every "):
            check_duration(text[len("@every "):].strip(), flag)
            return
        if text.startswith("@"):
            if text not in _DESCRIPTORS:
                raise ValueError(f"unknown descriptor {text!r}")
            return
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 fields (minute hour day-of-month month day-of-week), found {len(fields)}")
        for field_text, (what, low, high, names) in zip(fields, _FIELDS):
            _cron_field(field_text, what, low, high, names)
    except ValueError as exc:
        raise _bad(flag, f"cron schedule {value!r} is malformed: {exc}") from None


def check(kind: str, name: str | None, generate_name: str | None, namespace: str | None,
          service_account: str | None, artifact_repository_ref: tuple[str, str] | None,
          schedule: str | None, timezone: str | None, concurrency_policy: str | None,
          cache_max_age: str | None) -> None:
    """Every option that does nothing, or that Argo or Kubernetes would refuse."""
    if kind != "CronWorkflow":
        for flag, value in (("--schedule", schedule), ("--timezone", timezone), ("--concurrency-policy", concurrency_policy)):
            if value is not None:
                raise _bad(flag, f"applies only to --kind CronWorkflow (the output is a {kind})")
    if generate_name is not None:
        if kind != "Workflow":
            raise _bad("--generate-name", f"applies only to --kind Workflow (a {kind} needs a fixed --name)")
        if name is not None:
            raise _bad("--generate-name", "cannot be combined with --name (a fixed name wins; give one of them)")
        check_generate_name(generate_name, "--generate-name")
    if name is not None:
        check_subdomain(name, "--name", MAX_NAME.get(kind, 63))
    if namespace is not None and (not DNS_LABEL.match(namespace) or len(namespace) > 63):
        raise _bad("-n/--namespace", f"{namespace!r} is not a valid namespace (a DNS label: lower-case letters, "
                                     "digits and '-', at most 63 characters)")
    if service_account is not None:
        check_subdomain(service_account, "--service-account")
    if artifact_repository_ref is not None:
        configmap, key = artifact_repository_ref
        if not configmap:
            raise _bad("--artifact-repository", "names no ConfigMap (expected CONFIGMAP[:KEY])")
        check_subdomain(configmap, "--artifact-repository")
        if not CONFIGMAP_KEY.match(key) or len(key) > 253:
            raise _bad("--artifact-repository", f"key {key!r} is not a valid ConfigMap key (letters, digits, '-', '_', '.')")
    if schedule is not None:
        check_schedule(schedule, "--schedule")
    if timezone is not None:
        check_timezone(timezone, "--timezone")
    if concurrency_policy is not None and concurrency_policy not in POLICIES:
        raise _bad("--concurrency-policy", f"{concurrency_policy!r} is not one of {', '.join(POLICIES)}")
    if cache_max_age is not None:
        check_duration(cache_max_age, "--cache-max-age")
