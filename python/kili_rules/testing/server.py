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
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute_sync,
    parse,
    validate,
)
from graphql.language import DocumentNode

from .faults import Faults
from .resolvers import Resolver
from .state import EmulatorError, EmulatorState

logger = logging.getLogger("kili_rules.testing")

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_INFLATED_BYTES = 256 * 1024 * 1024
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
        return Reply(0, {}, reset=True)

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
        try:
            document = parse(query)
        except GraphQLError as err:
            return 200, {"data": None, "errors": [format_error(err)]}
        self.state.log_request(root_fields(document, operation_name))
        if authorization != f"X-API-Key: {self.api_key}":
            # status 200 on purpose: the SDK would retry a 401 for two minutes
            return 200, {
                "data": None,
                "errors": [
                    error("Unauthorized: missing or invalid API key (header Authorization)")
                ],
            }
        problems = validate(self.schema, document)
        if problems:
            return 200, {"data": None, "errors": [format_error(e) for e in problems]}
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


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at stop()
    timeout = 30  # a stalled client cannot hold a thread forever

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: Json) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
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
            self._send(reply.status, reply.body)
        except OSError:  # the client gave up waiting (an injected timeout)
            self.close_connection = True

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
