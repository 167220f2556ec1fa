"""The ``kili-rules`` command: check exports, lint rules, print the schema, serve, register.

Exit codes: 0 success (no violation at or above ``--fail-on``), 1 violations (or lint problems),
2 bad usage or unreadable input (one line on stderr, no traceback): a rules file with no rule,
an export that is not a readable zip, folder or JSON file, an export holding no label (unless
``--allow-empty``), and under ``--strict`` rules whose job appears in no label checked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kili_rules.report import FAIL_ON, Report

PROG = "kili-rules"
FORMATS = ("text", "json", "jsonl", "junit", "html")
_SUFFIX_FORMATS = {
    ".txt": "text",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xml": "junit",
    ".html": "html",
    ".htm": "html",
}

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage or unreadable input: printed as one line, exit code 2."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kili-rules")
    except PackageNotFoundError:
        return "unknown"


def _load_rules(path: str) -> Any:
    from kili_rules import RuleSet

    if not Path(path).exists():
        raise UsageError(f"rules file not found: {path}")
    rules = RuleSet.from_file(path)
    if not len(rules):
        raise UsageError(f"{path}: the rules file defines no rule, so nothing would be checked")
    return rules


def _render(report: Report, fmt: str) -> str:
    if fmt == "text":
        return report.to_text()
    if fmt == "json":
        return report.to_json() + "\n"
    if fmt == "jsonl":
        return report.to_jsonl()
    if fmt == "junit":
        return report.to_junit()
    return report.to_html()


def _write(text: str, output: str | None) -> None:
    if output is None:
        try:
            try:
                sys.stdout.write(text)
            except UnicodeEncodeError:
                # A terminal in a legacy encoding: write UTF-8 rather than fail on a category.
                sys.stdout.flush()
                sys.stdout.buffer.write(text.encode("utf-8"))
            sys.stdout.flush()
        except BrokenPipeError:
            # `kili-rules check ... | head`: the reader left early. Not an error; keep the exit
            # code of the check, and point stdout at devnull so the flush at exit is quiet.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
    else:
        Path(output).write_text(text, encoding="utf-8")


def cmd_check(args: argparse.Namespace) -> int:
    fmt = args.format
    if fmt is None:
        suffix = Path(args.output).suffix.lower() if args.output else ""
        fmt = _SUFFIX_FORMATS.get(suffix, "text")
    rules = _load_rules(args.rules)
    for path in args.paths:
        if not os.path.exists(path):
            raise UsageError(f"no such file or folder: {path}")
    # A bar only where a person watches: not in CI logs, not when stderr is a file.
    progress = not args.no_progress and sys.stderr.isatty()
    reports = [
        rules.validate_export(path, threads=args.threads, progress=progress) for path in args.paths
    ]
    report = Report.concat(reports)
    report.fingerprint = rules.fingerprint
    report.fail_on = args.fail_on
    unmatched = report.unmatched_rules(rules.rules) if report.labels else []
    if unmatched:
        report.notes.append(
            f"{len(unmatched)} rule{'s' * (len(unmatched) != 1)} matched no job in the labels "
            f"checked: {', '.join(unmatched)}"
        )
    _write(_render(report, fmt), args.output)
    if args.output is not None:
        from kili_rules._report_text import headline

        print(f"{PROG}: {headline(report)}; report written to {args.output}", file=sys.stderr)
    if not report.labels and not args.allow_empty:
        raise UsageError(
            f"no label was checked in {', '.join(args.paths)} (empty export?); "
            "pass --allow-empty to accept that"
        )
    if unmatched and args.strict:
        raise UsageError(f"--strict: {report.notes[-1]}")
    for note in report.notes:
        print(f"{PROG}: warning: {note}", file=sys.stderr)
    return report.exit_code(args.fail_on)


def _read_interface(path: str) -> Any:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}: not valid JSON ({error})") from error
    # Accept what `kili.projects(fields=["jsonInterface"])` returns for one project as well.
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict) and "jsonInterface" in data:
        data = data["jsonInterface"]
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise UsageError(f"{path}: jsonInterface is a string but not JSON ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
        raise UsageError(f"{path}: not a Kili jsonInterface (expected an object with 'jobs')")
    return data


def cmd_lint(args: argparse.Namespace) -> int:
    rules = _load_rules(args.rules)
    if args.interface is None:
        print(f"{args.rules}: rules are valid (no --interface given, ontology not checked)")
        return EXIT_OK
    problems = rules.lint(_read_interface(args.interface))
    for problem in problems:
        print(f"{args.rules}: {problem}")
    if problems:
        print(f"{len(problems)} problem{'s' * (len(problems) != 1)}", file=sys.stderr)
        return EXIT_VIOLATIONS
    print(f"{args.rules}: no problems against {args.interface}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from kili_rules import RuleSet

    _write(json.dumps(RuleSet.json_schema(), indent=2) + "\n", args.output)
    return EXIT_OK


def _env(name: str | None, what: str, required: bool) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if required and not value:
        raise UsageError(f"environment variable {name} ({what}) is not set")
    return value or None


def _missing_extra(error: ImportError, extra: str, command: str) -> UsageError:
    return UsageError(
        f"`{PROG} {command}` needs the {extra} extra: pip install 'kili-rules[{extra}]' ({error})"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    _load_rules(args.rules)  # fail here, with exit code 2, rather than in the server
    secret = _env(args.secret_env, "webhook secret", required=True)
    api_key = _env(args.api_key_env, "Kili API key", required=False)
    if not args.dry_run and api_key is None:
        raise UsageError(
            f"environment variable {args.api_key_env} (Kili API key) is not set; "
            "set it, or use --dry-run to validate without calling Kili"
        )
    try:
        from kili_rules.webhook import serve
    except ImportError as error:
        raise _missing_extra(error, "server", "serve") from error
    if secret is None:
        print(
            f"{PROG}: warning: no --secret-env; the receiver accepts requests without an "
            "Authorization header",
            file=sys.stderr,
        )
    serve(
        args.rules,
        host=args.host,
        port=args.port,
        secret=secret,
        api_endpoint=args.api_endpoint,
        api_key=api_key,
        dry_run=args.dry_run,
    )
    return EXIT_OK


def cmd_register(args: argparse.Namespace) -> int:
    api_key = _env(args.api_key_env, "Kili API key", required=True)
    header = _env(args.header_env, "webhook secret", required=True)
    try:
        from kili.client import Kili  # type: ignore[import-untyped, unused-ignore]

        from kili_rules.plugin import register_webhook
    except ImportError as error:
        raise _missing_extra(error, "plugin", "register") from error
    from kili.exceptions import (  # type: ignore[import-untyped, unused-ignore]
        AuthenticationFailed,
        GraphQLError,
        NotFound,
    )

    kwargs: dict[str, Any] = {"api_key": api_key}
    if args.api_endpoint:
        kwargs["api_endpoint"] = args.api_endpoint
    try:
        kili = Kili(**kwargs)
        result = register_webhook(
            kili, project_id=args.project, url=args.url, name=args.name, header=header
        )
    except (AuthenticationFailed, GraphQLError, NotFound) as error:
        raise UsageError(f"Kili API: {error}") from error
    print(result)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Declarative validation rules for Kili labels."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser(
        "check",
        help="validate Kili exports against a rules file",
        description="Validate Kili exports (zip, folder, JSON list or JSON Lines). Exit code: "
        "0 clean, 1 violations at or above --fail-on, 2 bad usage or unreadable input.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="export zip, folder or JSON file")
    check.add_argument("--rules", required=True, metavar="FILE", help="rules file (TOML/JSON/YAML)")
    check.add_argument(
        "--format", choices=FORMATS, help="output format (default: from --output suffix, or text)"
    )
    check.add_argument("--output", "-o", metavar="FILE", help="write the report here, not stdout")
    check.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="error",
        help="exit 1 from this severity (default error)",
    )
    check.add_argument(
        "--threads", type=int, metavar="N", help="worker threads (default: all cores)"
    )
    check.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    check.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept an export holding no label (else exit 2)",
    )
    check.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 when a rule's job appears in no label checked (else a warning)",
    )
    check.set_defaults(func=cmd_check)

    lint = sub.add_parser("lint", help="check a rules file against a project's jsonInterface")
    lint.add_argument("rules", metavar="RULES", help="rules file")
    lint.add_argument(
        "--interface",
        metavar="JSON",
        help="the project's jsonInterface (or a {'jsonInterface': ...} wrapper) as a JSON file",
    )
    lint.set_defaults(func=cmd_lint)

    schema = sub.add_parser("schema", help="print the JSON Schema of the rules file")
    schema.add_argument("--output", "-o", metavar="FILE", help="write it here, not stdout")
    schema.set_defaults(func=cmd_schema)

    serve = sub.add_parser("serve", help="run the webhook receiver (needs kili-rules[server])")
    serve.add_argument("--rules", required=True, metavar="FILE", help="rules file")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--secret-env",
        metavar="VAR",
        help="environment variable holding the expected Authorization header value",
    )
    serve.add_argument(
        "--api-key-env",
        metavar="VAR",
        default="KILI_API_KEY",
        help="environment variable holding the Kili API key (default KILI_API_KEY)",
    )
    serve.add_argument("--api-endpoint", metavar="URL", help="Kili GraphQL endpoint")
    serve.add_argument(
        "--dry-run", action="store_true", help="validate and log only; no issue, no send-back"
    )
    serve.set_defaults(func=cmd_serve)

    register = sub.add_parser("register", help="register the webhook on a Kili project")
    register.add_argument("--project", required=True, metavar="ID", help="Kili project id")
    register.add_argument("--url", required=True, help="public URL of the webhook receiver")
    register.add_argument("--name", required=True, help="name of the webhook in Kili")
    register.add_argument(
        "--header-env",
        metavar="VAR",
        help="environment variable holding the Authorization header Kili will send",
    )
    register.add_argument("--api-endpoint", metavar="URL", help="Kili GraphQL endpoint")
    register.add_argument(
        "--api-key-env",
        metavar="VAR",
        default="KILI_API_KEY",
        help="environment variable holding the Kili API key (default KILI_API_KEY)",
    )
    register.set_defaults(func=cmd_register)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "threads", None) is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    try:
        code: int = args.func(args)
    except UsageError as error:
        return _fail(str(error))
    except (ValueError, OSError) as error:
        # RulesError and LabelError are ValueErrors: a bad rules file or an unreadable export.
        return _fail(_describe(error))
    except KeyboardInterrupt:
        return 130
    return code


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.strerror}: {error.filename}"
    message = " ".join(str(error).split())  # one line, whatever the exception text holds
    return message or type(error).__name__


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
