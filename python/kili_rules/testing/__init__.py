"""A local, in-memory Kili GraphQL API for tests: ``KiliEmulator``.

The emulator serves, on a loopback port, the subset of Kili's GraphQL API that the real
``kili`` client (26.2.x) needs for the webhook workflow, with the client's init checks ON:
``viewer``, ``apiKeys``, schema introspection (from a hand-written SDL), ``projects``,
``assets``/``countAssets``, ``labels``/``countLabels``, ``issues``/``countIssues``,
``appendManyLabels``, ``createIssues``, ``sendAssetsBackToQueue`` (and the pre-26.2.1
``sendBackAssetsToQueue``), ``updatePropertiesInIssue`` (``update_issue_status``,
``issues.solve`` / ``cancel`` / ``open``: statuses OPEN, SOLVED, CANCELLED),
``addAssetsToReview`` (``add_to_review``, ``assets.move_to_next_step``),
``updatePropertiesInAssets`` (``update_properties_in_assets``; ``add_metadata`` merges on the
client side, as the SDK does, so other metadata keys are kept),
``createWebhook``/``updateWebhook`` and
``activatePluginOnProject``/``deactivatePluginOnProject``, and the hosted-plugin calls of
``kili.upload_plugin`` / ``update_plugin`` / ``get_plugin_status`` / ``get_plugin_logs`` /
``get_plugin_build_errors`` / ``list_plugins`` / ``delete_plugin`` (``plugins.py``: the
archive is PUT to a loopback upload URL, built, and run on label events in a fresh Python
process, as Kili runs it). Anything else is answered with a
GraphQL error naming it. It needs only the standard library and graphql-core (a dependency of
``kili``); the native ``kili_rules`` core is not imported.

Webhooks: when ``appendManyLabels`` stores a DEFAULT (REVIEW) label on a project where a
webhook is activated, the emulator POSTs the legacy ``onSubmit`` (``onReview``) event
``{"eventType", "logPayload": {"runId", "projectId"}, "payload": {"label", "asset_id"}}`` to
the webhook URL, with the registered header as ``Authorization``, from a background thread.
Only loopback URLs are accepted.

Public API (all methods are thread-safe)::

    KiliEmulator(*, api_key=..., host="127.0.0.1", port=0, serve_version=True,
                 delivery_timeout=10.0)       # context manager, or start() / stop()
    emu.endpoint, emu.api_key, emu.url, emu.port
    emu.kili_client(**kwargs)                 # a real kili.client.Kili bound to the emulator
    emu.add_project(project_id=None, *, json_interface=None, input_type="IMAGE", title=...,
                    steps=())               # steps=("Labeling", "Review"): workflow v2
    emu.add_asset(project_id, asset_id=None, *, external_id=None, resolution=None, ...) -> id
    emu.add_label(asset_id, json_response, *, label_type="DEFAULT") -> id   (no webhook)
    emu.add_assets(project_id, records) -> ids          (bulk load, tens of thousands)
    emu.fail_requests(root_field, [503, ...])   # HTTP statuses, one request each
    emu.project(id), emu.asset(id), emu.assets(project_id=None)          -> dicts
    emu.labels(project_id=None, *, asset_id=None)                        -> dicts
    emu.issues(project_id=None, *, asset_id=None, label_id=None, status=None) -> dicts
    emu.sent_back, emu.added_to_review, emu.webhooks, emu.requests, emu.deliveries -> lists
    emu.kili_client(timeout=None, **kwargs)   # timeout: replaces the SDK's 60 s request timeout
    emu.inject_fault(operation, kind="error", *, calls=None, seconds=None, delay=None,
                     applied=False, message=None, status=503) -> Fault
                                              # kinds: error, timeout, refuse, http
    emu.set_latency(seconds, operation="*"), emu.clear_faults(), emu.faults
    emu.wait_for_deliveries(n, timeout=5.0), emu.wait_until(predicate, timeout=5.0)
    emu.plugins, emu.plugin_runs, emu.wait_for_plugin_runs(n, timeout=60.0)   (hosted plugins)
    emu.reset()

Faults (``kili_rules.testing.faults``): a fault matches a request's root field and lasts a
number of calls and/or a time window. ``error`` answers a GraphQL error (the SDK raises
``kili.exceptions.GraphQLError``); ``timeout`` holds the answer past the client's timeout (a
read timeout: ``MutationOutcomeUnknownError`` for a mutation); ``refuse`` resets the connection
without an answer (a ``requests`` connection error). ``applied=True`` runs the operation first,
so the write lands and only its answer is lost. Example::

    emu.inject_fault("createIssues", "timeout", calls=1, delay=2.0, applied=True)
    kili = emu.kili_client(timeout=1.0)
    kili.create_issues(...)       # raises MutationOutcomeUnknownError; the issues exist

Schema caching: ``GET .../version`` answers a version derived from the SDL hash (unless
``serve_version=False``), so a schema the SDK caches (``<cache dir>/<host:port>_<version>.graphql``)
can never be a stale emulator schema. ``emu.kili_client()`` turns the SDK's cache off by
default: the SDK fixes its cache directory (``~/.cache/kili/graphql``) when ``kili`` is first
imported, so setting HOME in a test is not enough to keep it out of the user's cache. With
your own ``Kili(...)``, pass ``graphql_client_params={"enable_schema_caching": False}`` (or a
``graphql_schema_cache_dir`` in a temporary directory).

Example: the webhook tutorial's Step 5, all on loopback (``json_interface`` and
``three_boxes`` are the tutorial's; the rules are ``examples/rules.toml``)::

    import threading, time
    import uvicorn
    from kili_rules.testing import KiliEmulator
    from kili_rules.webhook import create_app

    with KiliEmulator() as emu:
        project_id = emu.add_project(json_interface=json_interface)
        asset_id = emu.add_asset(project_id, external_id="car_1")
        kili = emu.kili_client()          # the real client, init checks on
        app = create_app("examples/rules.toml", secret="custom header", kili=kili)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=8765))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        kili.create_webhook(webhook_url="http://127.0.0.1:8765/", plugin_name="rules",
                            header="custom header")
        kili.activate_plugin_on_project(plugin_name="rules", project_id=project_id)
        kili.append_labels(json_response_array=[three_boxes], asset_id_array=[asset_id])
        emu.wait_until(lambda: emu.sent_back == [asset_id], timeout=10)
        print(emu.issues(project_id))            # the count issue and "BBox too large"
        print(emu.asset(asset_id)["status"])     # ONGOING: sent back to the queue
        server.should_exit = True
"""

from .delivery import Delivery
from .emulator import KiliEmulator
from .faults import Fault
from .state import EmulatorError

__all__ = ["Delivery", "EmulatorError", "Fault", "KiliEmulator"]
