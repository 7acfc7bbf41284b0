"""The whole error tree of outreach-pipeline.

OutreachError                 root of everything this project raises on purpose
├── InputError                bad input from the person: a file, a field, a setting (exit 2)
│   ├── SettingsError         outreach.toml or an environment variable is invalid
│   ├── ImportProblemError    a contacts file has problems (carries every problem found)
│   └── TemplateError         a template is missing, fails to parse or lacks a field
├── NotFoundError             a contact, outreach or workspace that does not exist (exit 2)
├── TransientError            try again later: 429, 5xx, time-outs (honour retry_after)
│   └── AccountUnavailableError  the whole mailbox or calendar cannot be used now (read-only,
│                                no permission, disk full): the account's problem, not a step's
├── PermanentError            will not work however often it is tried: bad request, bad address
└── AuthError                 authorization revoked or expired: the account needs the person
"""

from __future__ import annotations

from collections.abc import Sequence


class OutreachError(Exception):
    """Root of every error this project raises on purpose."""

    exit_code = 1


class InputError(OutreachError):
    """The person gave input we cannot use; the message says what to fix."""

    exit_code = 2


class SettingsError(InputError):
    """A setting is unknown, of the wrong type or out of range."""


class ImportProblemError(InputError):
    """A contacts file has problems; nothing was written."""

    SKIP_INVALID_ADVICE = "Fix the file, or import the valid rows only with --skip-invalid."

    def __init__(self, problems: Sequence[object], advice: str = SKIP_INVALID_ADVICE) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems[:50])
        more = f"\n  ... and {count - 50} more" if count > 50 else ""
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} found, nothing imported:\n{lines}{more}\n"
            f"{advice}"
        )


class TemplateError(InputError):
    """A template cannot be found, parsed or rendered."""


class NotFoundError(OutreachError):
    """Something the person named does not exist."""

    exit_code = 2


class TransientError(OutreachError):
    """A temporary failure; retry later, after ``retry_after`` seconds when given."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccountUnavailableError(TransientError):
    """The account's mailbox or calendar as a whole cannot be used right now (a read-only
    file system, a permission taken away, a full disk). Every step of the account waits;
    the account shows the reason once, and the next tick tries again."""


class PermanentError(OutreachError):
    """A failure that retrying cannot fix."""


class AuthError(OutreachError):
    """The provider refused our authorization; the person must re-authorize the account."""
