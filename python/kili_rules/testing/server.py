"""HTTP side of the emulator: a stdlib ThreadingHTTPServer speaking Kili's GraphQL dialect.

POST <graphql path>  GraphQL over HTTP (JSON, optionally gzip-compressed as kili >= 26.2.2
                     sends large bodies). Errors are always answered with status 200 and an
                     ``errors`` list whose items carry ``extensions``: the SDK retries a 401
                     for two minutes and reads ``errors[0]["extensions"]``.
GET  <version path>  ``{"version": ...}`` (a hash of the SDL), or 404 if disabled.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    execute_sync,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import DocumentNode

from .faults import Faults
from .resolvers import Resolver
from .state import EmulatorError, EmulatorState

logger = logging.getLogger("kili_rules.testing")

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_INFLATED_BYTES = 256 * 1024 * 1024
DOCUMENT_CACHE_SIZE = 256
UNKNOWN_FIELD = re.compile(r"^Cannot query field '(\w+)' on type '(Query|Mutation)'\.")

Json = dict[str, Any]


def error(message: str) -> Json:
    return {"message": message, "extensions": {}}


def root_fields(document: DocumentNode, operation_name: str | None) -> list[str]:
    """Names (not aliases) of the root fields of the operation a request runs."""
    names = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name and (definition.name is None or definition.name.value != operation_name):
            continue
        for selection in definition.selection_set.selections:
            if isinstance(selection, FieldNode):
                names.append(selection.name.value)
    return names


def format_error(err: GraphQLError) -> Json:
    formatted: Json = dict(err.formatted)
    formatted["extensions"] = dict(err.extensions or {})
    original = err.original_error
    if original is not None and not isinstance(original, (EmulatorError, GraphQLError)):
        logger.error("emulator resolver failed", exc_info=original)
        formatted["message"] = f"internal emulator error ({type(original).__name__}): {original}"
    match = UNKNOWN_FIELD.match(formatted["message"])
    if match:
        formatted["message"] += (
            f" The kili-rules emulator does not implement the {match.group(2).lower()} "
            f"{match.group(1)!r}."
        )
    return formatted


@dataclass(frozen=True)
class Reply:
    """What to send back: after ``delay`` seconds, ``body`` with ``status``, or a reset."""

    status: int
    body: Json
    delay: float = 0.0
    reset: bool = False
    headers: tuple[tuple[str, str], ...] = ()


def _plain(selection_set: SelectionSetNode | None) -> bool:
    """Whether a selection set has only plain fields: no fragments, directives or __typename."""
    if selection_set is None:
        return True
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return False
        if selection.name.value.startswith("__") or not _plain(selection.selection_set):
            return False
    return True


def _project(value: Any, selection_set: SelectionSetNode | None) -> Any:
    """The selected part of a view (dicts, lists, lazy callables), as graphql-core would."""
    if callable(value):
        value = value(None)
    if value is None or selection_set is None:
        return value
    if isinstance(value, list):
        return [_project(item, selection_set) for item in value]
    out = {}
    for field in selection_set.selections:
        assert isinstance(field, FieldNode)  # checked by _plain
        key = field.alias.value if field.alias else field.name.value
        out[key] = _project(value.get(field.name.value), field.selection_set)
    return out


class GraphQLService:
    """Parses, authenticates, logs, validates and executes one GraphQL request."""

    def __init__(
        self,
        sdl: str,
        root: dict[str, Resolver],
        state: EmulatorState,
        api_key: str,
        faults: Faults | None = None,
    ):
        self.schema: GraphQLSchema = build_schema(sdl)
        self.root = root
        self.state = state
        self.api_key = api_key
        self.faults = faults or Faults()
        # parsed and validated documents by query text: the SDK sends the same few documents
        self._documents: dict[str, tuple[DocumentNode, list[GraphQLError]]] = {}
        self._documents_lock = threading.Lock()

    def reply(self, body: bytes, authorization: str | None) -> Reply:
        """Run a request through the injected latency and faults (see :mod:`.faults`)."""
        if self.faults.idle():
            return Reply(*self.run(body, authorization))
        fields = _peek_root_fields(body)
        latency = self.faults.latency(fields)
        if latency:
            time.sleep(latency)
        fault = self.faults.take(fields) if fields else None
        if fault is None:
            return Reply(*self.run(body, authorization))
        logger.info("emulator: injected %s fault on %s", fault.kind, ",".join(fields))
        if fault.applied:
            self.run(body, authorization)
        else:
            self.state.log_request(fields)
        if fault.kind == "error":
            return Reply(200, {"data": None, "errors": [error(fault.message)]})
        if fault.kind == "timeout":
            message = f"{fault.message} (answered after {fault.delay} s)"
            return Reply(200, {"data": None, "errors": [error(message)]}, delay=fault.delay)
        if fault.kind == "http":
            message = f"{fault.message} (HTTP {fault.status})"
            if 400 <= fault.status < 500 and fault.status != 429:
                # a refusal before GraphQL (a proxy, a gateway): no GraphQL body
                return Reply(fault.status, {"message": message})
            extra: tuple[tuple[str, str], ...] = ()
            if fault.retry_after is not None:
                # delta-seconds, as Kili's rate limiter sends it
                value = fault.retry_after
                extra = (("Retry-After", f"{int(value) if value == int(value) else value}"),)
            return Reply(fault.status, {"data": None, "errors": [error(message)]}, headers=extra)
        return Reply(0, {}, reset=True)

    def _document(self, query: str) -> tuple[DocumentNode, list[GraphQLError]] | GraphQLError:
        with self._documents_lock:
            cached = self._documents.get(query)
        if cached is None:
            try:
                document = parse(query)
            except GraphQLError as err:
                return err
            cached = (document, validate(self.schema, document))
            with self._documents_lock:
                if len(self._documents) >= DOCUMENT_CACHE_SIZE:
                    self._documents.clear()
                self._documents[query] = cached
        return cached

    def _fast_execute(self, document: DocumentNode, variables: Json) -> Json | None:
        """Run a plain query without graphql-core's executor (about 10x faster on pages).

        Returns None when the query needs the full executor (mutations, fragments, bad
        variables, a resolver error): the caller then runs it normally.
        """
        if len(document.definitions) != 1:
            return None
        op = document.definitions[0]
        if not isinstance(op, OperationDefinitionNode) or op.operation != OperationType.QUERY:
            return None
        if not _plain(op.selection_set) or self.schema.query_type is None:
            return None
        coerced = get_variable_values(self.schema, op.variable_definitions or (), variables)
        if isinstance(coerced, list):
            return None
        data: Json = {}
        try:
            for field in op.selection_set.selections:
                assert isinstance(field, FieldNode)
                name = field.name.value
                field_def = self.schema.query_type.fields[name]
                resolver: Callable[..., Any] = self.root[name]
                value = resolver(None, **get_argument_values(field_def, field, coerced))
                key = field.alias.value if field.alias else name
                data[key] = _project(value, field.selection_set)
        except Exception:  # the executor reports it properly
            return None
        return {"data": data}

    def run(self, body: bytes, authorization: str | None) -> tuple[int, Json]:
        try:
            payload = json.loads(body)
        except ValueError as err:
            return 400, {"data": None, "errors": [error(f"request body is not JSON: {err}")]}
        if not isinstance(payload, dict):
            return 400, {
                "data": None,
                "errors": [
                    error("expected one JSON object {query, variables}; batches are not supported")
                ],
            }
        query = payload.get("query")
        variables = payload.get("variables") or {}
        operation_name = payload.get("operationName")
        if not isinstance(query, str):
            return 400, {"data": None, "errors": [error("`query` must be a string")]}
        if not isinstance(variables, dict):
            return 400, {"data": None, "errors": [error("`variables` must be a JSON object")]}
        if operation_name is not None and not isinstance(operation_name, str):
            return 400, {"data": None, "errors": [error("`operationName` must be a string")]}
        parsed = self._document(query)
        if isinstance(parsed, GraphQLError):
            return 200, {"data": None, "errors": [format_error(parsed)]}
        document, problems = parsed
        fields = root_fields(document, operation_name)
        self.state.log_request(fields)
        if authorization != f"X-API-Key: {self.api_key}":
            # status 200 on purpose: the SDK would retry a 401 for two minutes
            return 200, {
                "data": None,
                "errors": [
                    error("Unauthorized: missing or invalid API key (header Authorization)")
                ],
            }
        if problems:
            return 200, {"data": None, "errors": [format_error(e) for e in problems]}
        if operation_name is None:
            fast = self._fast_execute(document, variables)
            if fast is not None:
                return 200, fast
        result = execute_sync(
            self.schema,
            document,
            root_value=self.root,
            variable_values=variables,
            operation_name=operation_name,
        )
        response: Json = {"data": result.data}
        if result.errors:
            response["errors"] = [format_error(e) for e in result.errors]
        return 200, response


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops bursts of connections (1 s SYN retries)

    def __init__(
        self,
        address: tuple[str, int],
        service: GraphQLService,
        graphql_path: str,
        version_path: str,
        version: str | None,
    ) -> None:
        super().__init__(address, _Handler)
        self.service = service
        self.graphql_path = graphql_path
        self.version_path = version_path
        self.version = version
        # (path prefix, handler) of the signed plugin-upload URLs (plugins.py); None: no PUT
        self.uploads: tuple[str, Callable[[str, bytes, str | None], tuple[int, Json]]] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at stop()
    timeout = 30  # a stalled client cannot hold a thread forever

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: Json, headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == self.server.version_path and self.server.version is not None:
            self._send(200, {"version": self.server.version})
        else:
            self._send(404, {"errors": [error(f"no such resource: GET {path}")]})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path != self.server.graphql_path:
            self._send(404, {"errors": [error(f"no such resource: POST {path}")]})
            return
        try:
            body = self._read_body()
            if body is None:
                return
            reply = self.server.service.reply(body, self.headers.get("Authorization"))
        except Exception as err:  # the server must answer whatever happens
            logger.exception("emulator request failed")
            message = f"internal emulator error ({type(err).__name__}): {err}"
            reply = Reply(500, {"data": None, "errors": [error(message)]})
        if reply.reset:
            # RST instead of FIN: the client sees a reset connection, no answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self._send(reply.status, reply.body, reply.headers)
        except OSError:  # the client gave up waiting (an injected timeout)
            self.close_connection = True

    def do_PUT(self) -> None:
        # a signed upload URL (kili.upload_plugin PUTs the plugin archive): no API key, as S3
        path = self.path.split("?", 1)[0]
        uploads = self.server.uploads
        if uploads is None or not path.startswith(uploads[0]):
            self._send(404, {"errors": [error(f"no such resource: PUT {path}")]})
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self._send(411, {"error": "Content-Length is required"})
            return
        if int(length_header) > MAX_BODY_BYTES:
            self._send(413, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return
        body = self.rfile.read(int(length_header))
        try:
            status, answer = uploads[1](path, body, self.headers.get("Content-Type"))
        except Exception as err:  # the server must answer whatever happens
            logger.exception("emulator upload failed")
            status, answer = 500, {"error": f"internal emulator error: {err}"}
        self._send(status, answer)

    def _read_body(self) -> bytes | None:
        """The request body, inflated; None after answering an error."""
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self._send(411, {"data": None, "errors": [error("Content-Length is required")]})
            return None
        length = int(length_header)
        if length > MAX_BODY_BYTES:
            self._send(413, {"data": None, "errors": [error(f"body over {MAX_BODY_BYTES} bytes")]})
            return None
        body = self.rfile.read(length)
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "identity":
            return body
        if encoding not in ("gzip", "deflate"):
            message = f"unsupported Content-Encoding {encoding!r}"
            self._send(415, {"data": None, "errors": [error(message)]})
            return None
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        try:
            inflated = inflater.decompress(body, MAX_INFLATED_BYTES)
        except zlib.error as err:
            self._send(400, {"data": None, "errors": [error(f"bad {encoding} body: {err}")]})
            return None
        if inflater.unconsumed_tail:
            message = f"inflated body over {MAX_INFLATED_BYTES} bytes"
            self._send(413, {"data": None, "errors": [error(message)]})
            return None
        return inflated


def _peek_root_fields(body: bytes) -> list[str]:
    """Root field names of a request body (for faults and latency); [] when unreadable."""
    try:
        payload = json.loads(body)
        document = parse(payload["query"])
        name = payload.get("operationName")
        return root_fields(document, name if isinstance(name, str) else None)
    except Exception:  # run() reports the problem properly
        return []
