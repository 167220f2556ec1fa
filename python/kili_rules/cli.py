"""The ``kili-rules`` command: check exports, audit a project, lint rules, print the schema,
serve, register.

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

from kili_rules import deep_json
from kili_rules.report import FAIL_ON, Report

PROG = "kili-rules"
DEFAULT_STORE = "kili-rules-events.db"  # kili_rules.journal.DEFAULT_STORE (not imported here)
FORMATS = ("text", "json", "jsonl", "junit", "html", "csv")
_SUFFIX_FORMATS = {
    ".txt": "text",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xml": "junit",
    ".html": "html",
    ".htm": "html",
    ".csv": "csv",
}

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2
EXIT_KILI_ACCESS = 4  # serve: Kili refused the API key, or a --project is unreadable


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


def _render(report: Report, fmt: str, args: argparse.Namespace | None = None) -> str:
    if fmt == "csv":
        return report.to_csv()
    if fmt == "text":
        return report.to_text()
    if fmt == "json":
        return report.to_json() + "\n"
    if fmt == "jsonl":
        return report.to_jsonl()
    if fmt == "junit":
        return report.to_junit()
    if args is None:
        return report.to_html()
    return report.to_html(drawings_per_rule=args.drawings, images=args.images or False)


def _write(text: str, output: str | None) -> None:
    if output is None or output == "-":  # "-o -": stdout, as most tools read it
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
    if fmt != "html" and (args.images or args.drawings != 6):
        raise UsageError(f"--images and --drawings shape the HTML report, not the {fmt} format")
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
    report.context = report.context.with_(
        rules_file=args.rules,
        project_id=args.project,
        kili_url=args.kili_url,
        asset_url=args.asset_url,
    )
    report.fail_on = args.fail_on
    unmatched = report.unmatched_rules(rules.rules) if report.labels else []
    if unmatched:
        report.notes.append(
            f"{len(unmatched)} rule{'s' * (len(unmatched) != 1)} matched no job in the labels "
            f"checked: {', '.join(unmatched)}"
        )
    if args.baseline is not None:
        _trends(report, args)
    _write(_render(report, fmt, args), args.output)
    if args.output is not None and args.output != "-":
        from kili_rules.report.text import headline

        print(f"{PROG}: {headline(report)}; report written to {args.output}", file=sys.stderr)
    if not report.labels and not report.unchecked and not args.allow_empty:
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


def _baseline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baseline",
        metavar="JSON",
        help="an earlier JSON report (check --format json): flag each rule whose rate moved",
    )
    parser.add_argument(
        "--trend-threshold",
        type=float,
        default=0.02,
        metavar="X",
        help="change in a rule's rate, in absolute share of the labels, that is flagged "
        "(default 0.02: two points)",
    )


def _trends(report: Report, args: argparse.Namespace) -> None:
    from kili_rules.report.trends import compare, rates, read_baseline

    if not 0 <= args.trend_threshold <= 1:
        raise UsageError(f"--trend-threshold must be in [0, 1], got {args.trend_threshold}")
    baseline = read_baseline(Path(args.baseline))
    report.trends = compare(rates(json.loads(report.to_json())), baseline, args.trend_threshold)
    for t in report.trends:
        if t["flagged"]:
            report.notes.append(
                f"rule {t['rule']}: {100 * t['after']:.1f}% of the labels, was "
                f"{100 * t['before']:.1f}% in {args.baseline} ({100 * t['change']:+.1f} points, "
                f"threshold {100 * args.trend_threshold:g})"
            )


def _records(args: argparse.Namespace, command: str, *, history: bool) -> list[Any]:
    """The records ``profile``, ``suggest`` and ``backtest`` learn from: a file or export
    (SOURCE) or a live project (``--project``), read as ``audit`` reads it."""
    from kili_rules.profile import read_source

    if (args.source is None) == (args.project is None):
        raise UsageError(f"{command}: give either SOURCE or --project ID (one of them)")
    if args.source is not None:
        return list(read_source(args.source))
    kili = _kili_client(args.api_key_env, args.api_endpoint, command)
    from kili_rules.kili.project import ProjectError, project_records

    try:
        records, notes = project_records(kili, args.project, history=history)
    except ProjectError as error:
        raise UsageError(f"Kili API: {error}") from error
    for note in notes:
        print(f"{PROG}: warning: {note}", file=sys.stderr)
    print(f"{PROG}: read {len(records)} assets of project {args.project}", file=sys.stderr)
    return records


def cmd_suggest(args: argparse.Namespace) -> int:
    from kili_rules import RuleSet
    from kili_rules.suggest import accepted_responses, suggest_rules

    responses = accepted_responses(_records(args, "suggest", history=False))
    source = args.source if args.source is not None else f"Kili project {args.project}"
    text = suggest_rules(responses, quantile=args.quantile, source=source)
    # What suggest writes must load and lint clean, as init's starter does.
    rules = RuleSet.from_toml(text)
    if args.interface is not None:
        problems = rules.lint(_read_interface(args.interface))
        if problems:
            raise UsageError(
                f"the suggested rules do not lint against {args.interface}: {problems}"
            )
    if args.output in (None, "-"):
        _write(text, None)
        return EXIT_OK
    if Path(args.output).exists() and not args.force:
        raise UsageError(f"{args.output} exists: pass --force to overwrite it")
    Path(args.output).write_text(text, encoding="utf-8")
    print(
        f"wrote {args.output}: {len(rules)} rules from {len(responses)} accepted labels",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    from kili_rules.backtest import backtest

    result = backtest(_load_rules(args.rules), _records(args, "backtest", history=True))
    if args.json:
        _write(json.dumps(result.to_dict(), indent=2) + "\n", None)
    else:
        _write(result.table() + "\n", None)
    return EXIT_OK


def cmd_bundle(args: argparse.Namespace) -> int:
    from kili_rules.bundle import write_bundle

    written = write_bundle(
        Path(args.rules),
        Path(args.output),
        events=args.events,
        requirement=args.requirement,
        force=args.force,
    )
    for path in written:
        print(f"wrote {path}")
    print(f"upload with: kili.upload_plugin(plugin_path={str(args.output)!r})")
    return EXIT_OK


def cmd_profile(args: argparse.Namespace) -> int:
    from kili_rules import profile

    prof = profile.build(_records(args, "profile", history=False))
    if prof["labels"] == 0:
        raise UsageError(f"{args.source or 'project ' + args.project}: no labels to profile")
    profile.dump(prof, args.output)
    print(f"profile of {prof['labels']} labels, {len(prof['jobs'])} jobs: {args.output}")
    return 0


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
    if args.secret_env and args.insecure_no_auth:
        raise UsageError("--secret-env and --insecure-no-auth contradict: pass one of them")
    _load_rules(args.rules)  # fail here, with exit code 2, rather than in the server
    secret = _env(args.secret_env, "webhook secret", required=True)
    if secret is None and not args.insecure_no_auth:
        raise UsageError(
            "no webhook secret: pass --secret-env VAR (the Authorization header Kili sends), "
            "or --insecure-no-auth to accept unauthenticated requests"
        )
    api_key = _env(args.api_key_env, "Kili API key", required=False)
    if not args.dry_run and api_key is None:
        raise UsageError(
            f"environment variable {args.api_key_env} (Kili API key) is not set; "
            "set it, or use --dry-run to validate without calling Kili"
        )
    for name in ("workers", "max_backlog", "max_connections", "max_attempts", "batch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.batch_wait <= 60:
        raise UsageError(f"--batch-wait must be between 0 and 60 seconds, not {args.batch_wait}")
    try:
        from kili_rules.webhook import RetryPolicy, serve
        from kili_rules.webhook.server import KiliAccessError
    except ImportError as error:
        raise _missing_extra(error, "server", "serve") from error
    if secret is None:
        print(
            f"{PROG}: warning: --insecure-no-auth: the receiver accepts requests without an "
            "Authorization header",
            file=sys.stderr,
        )
    if args.project and args.dry_run:
        raise UsageError("--project is checked against Kili at start; --dry-run calls no Kili")
    try:
        _serve(serve, RetryPolicy, args, secret, api_key)
    except KiliAccessError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_KILI_ACCESS
    return EXIT_OK


def _serve(
    serve: Any, retry_policy: Any, args: argparse.Namespace, secret: str | None, api_key: str | None
) -> None:
    serve(
        args.rules,
        projects=args.project or (),
        host=args.host,
        port=args.port,
        secret=secret,
        insecure_no_auth=args.insecure_no_auth,
        api_endpoint=args.api_endpoint,
        api_key=api_key,
        kili_timeout=args.kili_timeout,
        dry_run=args.dry_run,
        store=args.store,
        workers=args.workers,
        max_backlog=args.max_backlog,
        retention_days=args.retention_days,
        fetch_labels=args.fetch_labels,
        reconcile=not args.no_reconcile,
        kili_calls_per_minute=args.kili_calls_per_minute,
        lease_seconds=args.lease_seconds,
        retry=retry_policy(
            base_seconds=args.retry_base,
            max_seconds=args.retry_max,
            max_attempts=args.max_attempts,
            max_age_seconds=args.max_age_hours * 3600.0,
        ),
        max_connections=args.max_connections,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        shutdown_grace=args.shutdown_grace,
        batch_size=args.batch_size,
        batch_wait=args.batch_wait,
    )


def cmd_events(args: argparse.Namespace) -> int:
    from kili_rules.journal import State, open_journal

    if args.ids and args.action in ("list", "purge"):
        raise UsageError(f"events {args.action} takes no event id (use --state)")
    if args.state and args.action == "show":
        raise UsageError("events show takes event ids, not --state")
    postgres = args.store.startswith(("postgresql://", "postgres://"))
    if not postgres and not Path(args.store).exists():
        raise UsageError(f"no event journal at {args.store} (give the server's --store)")
    journal = open_journal(args.store)
    try:
        if args.action == "list":
            state = State(args.state) if args.state else None
            events = journal.list(state=state, limit=args.limit, offset=args.offset)
            for event in events:
                error = f"  {event.last_error}" if event.last_error else ""
                print(
                    f"{event.id}\t{event.state.value}\t{event.attempts}\t{event.project_id}\t"
                    f"{event.asset_id}\t{event.label_id}\t{event.event}{error}"
                )
            stats = journal.stats()
            print(
                f"{stats.pending} pending, {stats.leased} in progress, {stats.done} done, "
                f"{stats.dead} dead",
                file=sys.stderr,
            )
        elif args.action == "show":
            missing = []
            for event_id in args.ids:
                found = journal.get(event_id)
                if found is None:
                    missing.append(str(event_id))
                else:
                    # deep_json: a label nested past json's own depth is shown, not a crash
                    print(deep_json.dumps(found.to_dict(), indent=2, sort_keys=True))
            if missing:
                raise UsageError(f"no event with id {', '.join(missing)} in {args.store}")
        elif args.action == "replay":
            if not args.ids and not args.state:
                raise UsageError("events replay needs event ids or --state (e.g. --state dead)")
            count = journal.replay(args.ids, state=State(args.state) if args.state else None)
            print(f"{count} event(s) pending again")
        else:  # purge
            if not args.state:
                raise UsageError("events purge needs --state (pending, done or dead)")
            older = args.older_than_days * 86400.0
            count = journal.purge(state=State(args.state), older_than_seconds=older)
            print(f"{count} {args.state} event(s) deleted")
    finally:
        journal.close()
    return EXIT_OK


def cmd_register(args: argparse.Namespace) -> int:
    api_key = _env(args.api_key_env, "Kili API key", required=True)
    header = _env(args.header_env, "webhook secret", required=True)
    if header is None:
        print(
            f"{PROG}: warning: no --header-env: Kili will call the webhook without an "
            "Authorization header, and `kili-rules serve` refuses such requests unless it "
            "runs with --insecure-no-auth",
            file=sys.stderr,
        )
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


def cmd_init(args: argparse.Namespace) -> int:
    from kili_rules import RuleSet
    from kili_rules.init import starter_rulebook

    interface = _read_interface(args.interface)
    try:
        text = starter_rulebook(interface, source=args.interface)
    except ValueError as error:
        raise UsageError(str(error)) from error
    # What init writes must load and lint clean: a starter that fails its own lint is a bug.
    problems = RuleSet.from_toml(text).lint(interface)
    if problems:
        raise RuntimeError(f"kili-rules init wrote a rulebook that does not lint: {problems}")
    if args.output not in (None, "-"):
        out = Path(args.output)
        if out.exists() and not args.force:
            raise UsageError(f"{out} exists: pass --force to overwrite it")
        out.write_text(text, encoding="utf-8")
        print(
            f"wrote {out}: {text.count('[[rule]]')} rules; check with: "
            f"kili-rules lint {out} --interface {args.interface}",
            file=sys.stderr,
        )
        return EXIT_OK
    _write(text, None)
    return EXIT_OK


def cmd_emulator(args: argparse.Namespace) -> int:
    try:
        import graphql  # noqa: F401  (the emulator's only dependency, installed with kili)
    except ImportError as error:
        raise _missing_extra(error, "plugin", "emulator") from error
    from kili_rules.testing.process import serve_emulator

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a port number (0-65535)")
    if args.seed is not None and not Path(args.seed).is_file():
        raise UsageError(f"seed file not found: {args.seed}")
    try:
        return serve_emulator(host=args.host, port=args.port, seed=args.seed, api_key=args.api_key)
    except OSError as error:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error} "
            "(another emulator running? pick one with --port)"
        ) from error


def _kili_client(api_key_env: str, api_endpoint: str | None, command: str) -> Any:
    api_key = _env(api_key_env, "Kili API key", required=True)
    try:
        from kili.client import Kili  # type: ignore[import-untyped, unused-ignore]
    except ImportError as error:
        raise _missing_extra(error, "plugin", command) from error
    from kili.exceptions import AuthenticationFailed  # type: ignore[import-untyped, unused-ignore]

    kwargs: dict[str, Any] = {"api_key": api_key}
    if api_endpoint:
        kwargs["api_endpoint"] = api_endpoint
    try:
        return Kili(**kwargs)
    except AuthenticationFailed as error:
        raise UsageError(f"Kili API: {error}") from error


def _issue_outcomes(report: Any, kili: Any, project: str, rules: Any) -> None:
    """The report's section on what reviewers made of kili-rules' issues (solved, cancelled);
    a failed read is a note of the report, not a failed audit."""
    from kili_rules.kili.waivers import issue_outcomes

    policy = getattr(rules, "actions", None)
    prefix = getattr(policy, "metadata_prefix", "kili_rules_")
    try:
        report.issue_outcomes = issue_outcomes(kili, project, prefix)
    except Exception as error:  # the SDK's errors are many; the audit itself stands
        report.notes.append(f"issue outcomes not read from Kili: {type(error).__name__}: {error}")


def cmd_audit(args: argparse.Namespace) -> int:
    fmt = args.format
    if fmt is None:
        suffix = Path(args.output).suffix.lower() if args.output else ""
        fmt = _SUFFIX_FORMATS.get(suffix, "text")
    if (args.verbose or args.quiet or args.apply_log) and not args.apply:
        raise UsageError("--verbose, --quiet and --apply-log describe --apply: pass it too")
    if args.verbose and args.quiet:
        raise UsageError("--verbose and --quiet contradict: pass one of them")
    if args.dry_run and not args.apply:
        # a dry run of nothing: refuse it rather than let the user believe a plan was shown
        raise UsageError("--dry-run shows what --apply would change: pass both, or neither")
    rules = _load_rules(args.rules)
    kili = _kili_client(args.api_key_env, args.api_endpoint, "audit")
    from kili_rules.kili.project import ProjectError

    try:
        report = rules.validate_project(
            kili,
            args.project,
            since=args.since,
            status_in=args.status,
            labels=args.labels,
            concurrency=args.concurrency,
            disable_tqdm=not _progress(args),
        )
    except ProjectError as error:
        raise UsageError(f"Kili API: {error}") from error
    report.context = report.context.with_(rules_file=args.rules)
    _issue_outcomes(report, kili, args.project, rules)
    if args.baseline is not None:
        _trends(report, args)
        for note in report.notes:
            print(f"{PROG}: warning: {note}", file=sys.stderr)
    _write(_render(report, fmt), args.output)
    from kili_rules.report.text import headline

    if args.output is not None and args.output != "-":
        print(f"{PROG}: {headline(report)}; report written to {args.output}", file=sys.stderr)
    if not report.labels and not report.unchecked and not args.allow_empty:
        # as `check` on an empty export: an audit that read nothing proved nothing
        raise UsageError(
            f"no label was read in project {args.project} (no asset, or none matching the "
            "filters); pass --allow-empty to accept that"
        )
    if args.apply:
        # the rules file's [actions] when this build reads them; else apply's default policy
        policy = getattr(rules, "actions", None)
        extra = {"policy": policy} if policy is not None else {}
        applied = report.apply(kili, dry_run=args.dry_run, progress=_progress(args), **extra)
        _report_applied(args, applied)
    return int(report.exit_code(args.fail_on))


def _progress(args: argparse.Namespace) -> bool:
    """A progress bar of audit's or apply's own: only on a terminal, never with --quiet or
    --no-progress (a pipe or a CI log gets none)."""
    return not (args.no_progress or args.quiet) and sys.stderr.isatty()


def _report_applied(args: argparse.Namespace, result: Any) -> None:
    """What `audit --apply` and `apply` say about an ApplyResult; raise (exit 2) unless all of
    it was applied."""
    if args.apply_log is not None:
        Path(args.apply_log).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    if args.verbose:
        print(result, file=sys.stderr)
    elif not args.quiet:
        print(result.summary(), file=sys.stderr)
    if result.failed:
        raise UsageError(
            f"Kili API: {len(result.failed)} batch(es) of changes failed; "
            "run the same command again to resume"
        )
    if not result.ok:
        # an asset left alone was not applied: that is no success (the headline says why)
        raise UsageError(f"apply: {result.headline()}")


def cmd_apply(args: argparse.Namespace) -> int:
    """Push a saved JSON report back to Kili: 0 when all of it was applied, 2 when a batch
    failed or an asset could not be applied (the headline says how many and why)."""
    if args.verbose and args.quiet:
        raise UsageError("--verbose and --quiet contradict: pass one of them")
    if not os.path.isfile(args.report):
        raise UsageError(f"no such report file: {args.report}")
    from kili_rules.kili.apply import read_report

    report = read_report(args.report)
    project = args.project or report.context.project_id
    if not project:
        raise UsageError(
            f"{args.report} names no Kili project: pass --project ID (the project of its assets)"
        )
    extra: dict[str, Any] = {}
    if args.rules is not None:
        policy = getattr(_load_rules(args.rules), "actions", None)
        if policy is not None:
            extra["policy"] = policy
    kili = _kili_client(args.api_key_env, args.api_endpoint, "apply")
    applied = report.apply(
        kili, project_id=project, dry_run=args.dry_run, progress=_progress(args), **extra
    )
    _report_applied(args, applied)
    return EXIT_OK


def _kili_arguments(parser: argparse.ArgumentParser) -> None:
    """The Kili connection options every command that talks to Kili takes."""
    parser.add_argument("--api-endpoint", metavar="URL", help="Kili GraphQL endpoint")
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        default="KILI_API_KEY",
        help="environment variable holding the Kili API key (default KILI_API_KEY)",
    )


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    """SOURCE or ``--project``: what ``profile``, ``suggest`` and ``backtest`` learn from."""
    parser.add_argument(
        "source",
        metavar="SOURCE",
        nargs="?",
        help="a JSON list or JSON Lines file of assets or labels, or a Kili export (zip or folder)",
    )
    parser.add_argument(
        "--project", metavar="ID", help="read the labels of this Kili project instead of SOURCE"
    )
    _kili_arguments(parser)


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
    check.add_argument(
        "--output", "-o", metavar="FILE", help="write the report here, not stdout ('-': stdout)"
    )
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
    report_options = check.add_argument_group("HTML report")
    report_options.add_argument(
        "--project", metavar="ID", help="Kili project id: each asset links to its labeling page"
    )
    report_options.add_argument(
        "--kili-url",
        metavar="URL",
        help="base URL of Kili's app for the links (default https://cloud.kili-technology.com; "
        "set it for an on-premise install)",
    )
    report_options.add_argument(
        "--asset-url",
        metavar="PATTERN",
        help="link pattern for an install whose URLs differ, with {kili_url}, {project_id} "
        "and {asset_id}",
    )
    report_options.add_argument(
        "--drawings",
        type=int,
        default=6,
        metavar="N",
        help="draw the first N labels with findings of each rule (default 6, 0: none)",
    )
    report_options.add_argument(
        "--images",
        action="append",
        metavar="PREFIX",
        help="draw the asset's image under its objects: 'local' for local files, or a URL "
        "prefix the page may load images from (repeatable)",
    )
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
    _baseline_arguments(check)
    check.set_defaults(func=cmd_check)

    audit = sub.add_parser(
        "audit",
        help="validate the labels of a live Kili project",
        description="Validate the labels of a Kili project straight from the API (latest label "
        "of each asset by default). Exit code: 0 clean, 1 violations at or above --fail-on "
        "(or labels that could not be checked), 2 bad usage or a Kili API failure.",
    )
    audit.add_argument("--project", required=True, metavar="ID", help="Kili project id")
    audit.add_argument("--rules", required=True, metavar="FILE", help="rules file (TOML/JSON/YAML)")
    audit.add_argument(
        "--since", metavar="DATE", help="only assets updated at or after (ISO date or date-time)"
    )
    audit.add_argument(
        "--status",
        action="append",
        metavar="STATUS",
        help="only assets of this status (repeatable: --status LABELED --status REVIEWED)",
    )
    audit.add_argument(
        "--labels",
        choices=("latest", "all", "consensus"),
        default="latest",
        help="which labels of each asset (default latest)",
    )
    audit.add_argument(
        "--apply", action="store_true", help="push the findings back to Kili (issues, actions)"
    )
    audit.add_argument(
        "--dry-run", action="store_true", help="with --apply: print the changes, make none"
    )
    audit.add_argument(
        "--verbose",
        action="store_true",
        help="with --apply: print every change (default: a summary of counts)",
    )
    audit.add_argument(
        "--quiet",
        action="store_true",
        help="with --apply: print nothing of the changes, and no progress bar",
    )
    audit.add_argument(
        "--apply-log",
        metavar="FILE",
        help="with --apply: write every change, failure and skip as JSON to FILE",
    )
    audit.add_argument(
        "--format", choices=FORMATS, help="output format (default: from --output suffix, or text)"
    )
    audit.add_argument("--output", "-o", metavar="FILE", help="write the report here, not stdout")
    audit.add_argument(
        "--fail-on", choices=FAIL_ON, default="error", help="exit 1 from this severity"
    )
    audit.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="pages in flight (default 4)"
    )
    _kili_arguments(audit)
    audit.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    audit.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept a run that read no label (else exit 2)",
    )
    _baseline_arguments(audit)
    audit.set_defaults(func=cmd_audit)

    apply = sub.add_parser(
        "apply",
        help="push a saved JSON report (check/audit --format json) back to Kili",
        description="Push the findings of a report saved with --format json back to Kili, as "
        "audit --apply does (issues without duplicates, solved when they no longer fire, the "
        "rules' actions). A report without label ids (from an export) is applied too: the "
        "assets' latest labels are read from Kili first. Exit code: 0 all applied, 2 bad "
        "usage, a failed Kili call or an asset that could not be applied.",
    )
    apply.add_argument("report", metavar="REPORT", help="a report written with --format json")
    apply.add_argument(
        "--project", metavar="ID", help="Kili project id (default: the one the report names)"
    )
    apply.add_argument("--rules", metavar="FILE", help="rules file whose [actions] apply")
    apply.add_argument("--dry-run", action="store_true", help="print the changes, make none")
    apply.add_argument("--verbose", action="store_true", help="print every change")
    apply.add_argument(
        "--quiet", action="store_true", help="print nothing of the changes, and no progress bar"
    )
    apply.add_argument(
        "--no-progress", action="store_true", help="no progress bar on stderr (a terminal has one)"
    )
    apply.add_argument(
        "--apply-log", metavar="FILE", help="write every change, failure and skip as JSON"
    )
    _kili_arguments(apply)
    apply.set_defaults(func=cmd_apply)

    lint = sub.add_parser("lint", help="check a rules file against a project's jsonInterface")
    lint.add_argument("rules", metavar="RULES", help="rules file")
    lint.add_argument(
        "--interface",
        metavar="JSON",
        help="the project's jsonInterface (or a {'jsonInterface': ...} wrapper) as a JSON file",
    )
    lint.set_defaults(func=cmd_lint)

    suggest = sub.add_parser("suggest", help="write a rulebook learned from accepted labels")
    _source_arguments(suggest)
    suggest.add_argument("-o", "--output", metavar="FILE", help="where to write (default: stdout)")
    suggest.add_argument("--interface", metavar="JSON", help="lint the result against it")
    suggest.add_argument(
        "--quantile", type=float, default=0.001, help="tail cut on each side (default 0.001)"
    )
    suggest.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    suggest.set_defaults(func=cmd_suggest)

    backtest = sub.add_parser("backtest", help="what a rulebook would have flagged in past labels")
    backtest.add_argument("rules", metavar="RULES", help="rules file")
    _source_arguments(backtest)
    backtest.add_argument("--json", action="store_true", help="JSON instead of a table")
    backtest.set_defaults(func=cmd_backtest)

    bundle = sub.add_parser(
        "bundle", help="write a plugin folder for kili.upload_plugin(plugin_path=DIR)"
    )
    bundle.add_argument("rules", metavar="RULES", help='rules file (no kind = "python" rules)')
    bundle.add_argument("--output", "-o", required=True, metavar="DIR", help="folder to write")
    bundle.add_argument(
        "--events",
        action="store_true",
        help="subscribe with @on_kili_event (label.workflow.created.default / .review) "
        "instead of on_submit / on_review",
    )
    from kili_rules.bundle import DEFAULT_REQUIREMENT

    bundle.add_argument(
        "--requirement",
        default=DEFAULT_REQUIREMENT,
        metavar="REQ",
        help="the requirements.txt line installing kili-rules, e.g. the URL of the wheel "
        f"your team hosts (default {DEFAULT_REQUIREMENT!r}; kili-rules is not on PyPI)",
    )
    bundle.add_argument("--force", action="store_true", help="write into a non-empty DIR")
    bundle.set_defaults(func=cmd_bundle)

    prof = sub.add_parser(
        "profile",
        help="write per job and category statistics of labels (docs/profiles.md)",
    )
    _source_arguments(prof)
    prof.add_argument("--output", "-o", metavar="FILE", required=True, help="the profile JSON")
    prof.set_defaults(func=cmd_profile)

    schema = sub.add_parser("schema", help="print the JSON Schema of the rules file")
    schema.add_argument("--output", "-o", metavar="FILE", help="write it here, not stdout")
    schema.set_defaults(func=cmd_schema)

    serve = sub.add_parser(
        "serve",
        help="run the webhook receiver (needs kili-rules[server])",
        description="Receive Kili webhook events, commit each to a durable journal before "
        "answering 2xx, and check the labels from it with retries.",
    )
    serve.add_argument("--rules", required=True, metavar="FILE", help="rules file")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--secret-env",
        metavar="VAR",
        help="environment variable holding the expected Authorization header value (required "
        "unless --insecure-no-auth)",
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="accept requests without an Authorization header (trusted networks only)",
    )
    serve.add_argument(
        "--api-key-env",
        metavar="VAR",
        default="KILI_API_KEY",
        help="environment variable holding the Kili API key (default KILI_API_KEY)",
    )
    serve.add_argument("--api-endpoint", metavar="URL", help="Kili GraphQL endpoint")
    serve.add_argument(
        "--project",
        action="append",
        metavar="ID",
        help="a project the receiver serves: checked readable with the key at start "
        f"(exit code {EXIT_KILI_ACCESS} if not); repeatable",
    )
    serve.add_argument(
        "--kili-timeout", type=float, metavar="S", help="Kili request timeout (SDK default 60 s)"
    )
    serve.add_argument(
        "--dry-run", action="store_true", help="validate and log only; no issue, no send-back"
    )
    serve.add_argument(
        "--store",
        default=DEFAULT_STORE,
        metavar="PATH|URL",
        help=f"the event journal: a SQLite file (default ./{DEFAULT_STORE}, one server "
        "process per file) or postgresql://... (shared by replicas; needs kili-rules[postgres])",
    )
    serve.add_argument("--workers", type=int, default=2, help="worker threads (default 2)")
    serve.add_argument(
        "--batch-size",
        type=int,
        default=50,
        help="pending events whose Kili calls are shared (one read, one createIssues, one "
        "send-back for them all; default 50; 1: each event on its own)",
    )
    serve.add_argument(
        "--batch-wait",
        type=float,
        default=0.25,
        metavar="S",
        help="seconds a worker waits at most for a batch to fill (default 0.25)",
    )
    serve.add_argument(
        "--max-backlog",
        type=int,
        default=100_000,
        help="events waiting beyond which new ones get 503 + Retry-After (default 100000)",
    )
    serve.add_argument(
        "--retention-days",
        type=float,
        default=30.0,
        help="days a processed event (and its idempotency key) is kept (default 30)",
    )
    serve.add_argument(
        "--fetch-labels",
        action="store_true",
        help="always fetch the label from Kili by id and ignore inline content (use this on "
        "untrusted networks)",
    )
    serve.add_argument(
        "--no-reconcile",
        action="store_true",
        help="do not solve earlier kili-rules issues that no longer fire",
    )
    serve.add_argument(
        "--kili-calls-per-minute",
        type=float,
        default=500.0,
        help="Kili API calls a minute this process may make (default 500)",
    )
    serve.add_argument(
        "--lease-seconds",
        type=float,
        default=60.0,
        help="an event whose worker stops answering is taken again after this (default 60)",
    )
    serve.add_argument(
        "--retry-base", type=float, default=1.0, help="first retry delay, seconds (default 1)"
    )
    serve.add_argument(
        "--retry-max", type=float, default=300.0, help="longest retry delay, seconds (default 300)"
    )
    serve.add_argument(
        "--max-attempts", type=int, default=10, help="attempts before a dead letter (default 10)"
    )
    serve.add_argument(
        "--max-age-hours",
        type=float,
        default=24.0,
        help="an event still failing after this is a dead letter (default 24)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=1000,
        help="open connections at most; more are refused at once (default 1000, lowered to "
        "fit the open-file limit)",
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a client has to send its request headers (default 10)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=10.0,
        help="seconds a client has to send its request body (default 10)",
    )
    serve.add_argument(
        "--shutdown-grace",
        type=float,
        default=20.0,
        help="on SIGTERM, seconds to finish events in progress before releasing them (default 20)",
    )
    serve.set_defaults(func=cmd_serve)

    events = sub.add_parser(
        "events",
        help="list, show, replay or purge the webhook journal's events",
        description="Inspect the event journal of `kili-rules serve` (works while it runs).",
    )
    events.add_argument("action", choices=("list", "show", "replay", "purge"))
    events.add_argument("ids", nargs="*", type=int, metavar="ID", help="event ids (show, replay)")
    events.add_argument(
        "--store",
        default=DEFAULT_STORE,
        metavar="PATH|URL",
        help=f"the journal (default ./{DEFAULT_STORE})",
    )
    events.add_argument(
        "--state",
        choices=("pending", "leased", "done", "dead"),
        help="list / replay / purge the events in this state",
    )
    events.add_argument("--limit", type=int, default=100, help="list: at most N (default 100)")
    events.add_argument("--offset", type=int, default=0, help="list: skip N first")
    events.add_argument(
        "--older-than-days", type=float, default=0.0, help="purge: only events older than this"
    )
    events.set_defaults(func=cmd_events)

    register = sub.add_parser("register", help="register the webhook on a Kili project")
    register.add_argument("--project", required=True, metavar="ID", help="Kili project id")
    register.add_argument("--url", required=True, help="public URL of the webhook receiver")
    register.add_argument("--name", required=True, help="name of the webhook in Kili")
    register.add_argument(
        "--header-env",
        metavar="VAR",
        help="environment variable holding the Authorization header Kili will send",
    )
    _kili_arguments(register)
    register.set_defaults(func=cmd_register)

    emulator = sub.add_parser(
        "emulator",
        help="run a local Kili API (the test emulator) until SIGTERM/Ctrl-C",
        description="Serve the in-memory Kili emulator on a fixed loopback port, seeded from a "
        "file of projects, assets and labels (docs/local-kili.md). The real kili client, "
        "`kili-rules audit`/`register` and `kili.export_labels` work against it; webhooks "
        "registered on it are delivered. Exit code: 0 after SIGTERM/SIGINT, 2 bad usage "
        "(port in use, bad seed file).",
    )
    emulator.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)"
    )
    emulator.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    emulator.add_argument(
        "--seed", metavar="FILE", help="projects, assets and labels to start with (JSON/TOML/YAML)"
    )
    emulator.add_argument(
        "--api-key",
        default="kili-rules-emulator-key",
        help="the only API key accepted (default kili-rules-emulator-key)",
    )
    emulator.set_defaults(func=cmd_emulator)

    init = sub.add_parser("init", help="write a starting rulebook from a project's jsonInterface")
    init.add_argument(
        "--interface",
        metavar="JSON",
        required=True,
        help="the project's jsonInterface (or a {'jsonInterface': ...} wrapper) as a JSON file",
    )
    init.add_argument("-o", "--output", metavar="FILE", help="where to write (default: stdout)")
    init.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    init.set_defaults(func=cmd_init)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "threads", None) is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if getattr(args, "drawings", 0) < 0:
        parser.error("--drawings must be 0 or more")
    try:
        code: int = args.func(args)
    except UsageError as error:
        return _fail(str(error))
    except (ValueError, OSError) as error:
        # RulesError and LabelError are ValueErrors: a bad rules file or an unreadable export.
        return _fail(_describe(error))
    except ImportError as error:
        # An optional extra that is not installed: its own message names the extra.
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
