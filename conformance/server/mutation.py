"""One mutant planted in the reference server (``run --mutant ID``, ``serve --mutant ID``).

The mutant (:mod:`conformance.catalogue.mutants`) changes the server only at the boundary every
handler already has, and only for its own operation:

- request mutants change the :class:`~conformance.server.registry.Call` before the handler reads it
  (a parameter taken out, an integer read one higher), or the schema the request is validated against
  (a bound moved or dropped; the batch limit, which its handler checks itself, is read from that schema);
- state mutants compare the store before and after the handler (:mod:`conformance.server.records`)
  and undo every change, undo the last one (of the kind of record it changed most; its only change,
  if it made one), or repeat the last one on one more record of its kind;
  queued work the handler schedules gets the same treatment when it settles;
- answer mutants change the :class:`~conformance.server.registry.Reply` (a copy): a property dropped,
  or given the value another record had, or the record's value from before the request; an array's
  last item dropped, or an item of another scope added; a refusal's body emptied. "Another record" and "another scope" are
  what earlier answers of the same operation held; "before the request" is what any answer said of
  the record last, and what the operation's own read (``GET`` of the same path, or of the path above
  it) answers just before the handler runs.

Every change the mutant makes counts as an activation: a mutant that no test activates is one no
test could have told apart.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterator
from typing import Any

from conformance.catalogue.mutants import UPPER, Mutant
from conformance.server.errors import ApiError
from conformance.server.operations import Operation, build_operation
from conformance.server.records import BOOKKEEPING, Snapshot, changes, repeat, restore, revert
from conformance.server.registry import Call, Reply
from conformance.server.store import Store
from conformance.specs import at_pointer

# The keys that name the record an answer's object is about, most specific first.
ID_KEYS = ("id", "memory_id", "sandbox_id", "webhook_id", "event_id", "project_id", "org_id", "memory_export_id",
           "user_id", "agent_id", "app_id", "run_id", "email", "username")
Handler = Callable[[Call], "Reply | tuple[int, Any]"]


def identity(value: Any, fallback: str) -> str:
    """Which record an object of an answer is about: its first id key, else ``fallback``."""
    if isinstance(value, dict):
        for key in ID_KEYS:
            ident = value.get(key)
            if isinstance(ident, str | int) and not isinstance(ident, bool) and ident != "":
                return f"{key}={ident}"
    return fallback


def _fingerprint(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def locate(root: list[Any], path: tuple[str, ...]) -> list[tuple[Any, Any]]:
    """``(container, key)`` of every value at ``path`` below ``root[0]`` (``[]`` walks every item)."""
    found: list[tuple[Any, Any]] = [(root, 0)]
    for segment in path:
        step: list[tuple[Any, Any]] = []
        for container, key in found:
            value = container[key]
            if segment == "[]":
                step += [(value, index) for index in range(len(value))] if isinstance(value, list) else []
            elif isinstance(value, dict) and segment in value:
                step.append((value, segment))
        found = step
    return found


def violates(value: Any, keyword: str, limit: float | None) -> bool:
    if limit is None:
        return False
    if keyword in ("minimum", "maximum"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return value < limit if keyword == "minimum" else value > limit
    if isinstance(value, str) and keyword in ("minLength", "maxLength") or isinstance(value, list) and keyword in (
            "minItems", "maxItems"):
        return len(value) < limit if keyword.startswith("min") else len(value) > limit
    return False


class Planted:
    """A mutant in one reference server, with what it has seen and how often it changed something."""

    def __init__(self, mutant: Mutant, reads: dict[str, tuple[Operation, Handler]]) -> None:
        self.mutant = mutant
        self.reads = reads  # GET operations by path: the pre-image of a record before a change
        self.activations = 0
        self.seen: dict[str, OrderedDict[str, Any]] = defaultdict(OrderedDict)  # other, gain-foreign
        self.known: dict[tuple[str, str], Any] = {}  # before: (record, property) -> its last value
        self._owners: dict[int, str] = {}  # id() of each object of the answer being mutated -> its record
        self._operation: Operation | None = None

    def mine(self, operation: Operation) -> bool:
        return operation.operation_id == self.mutant.operation

    # --- request ---------------------------------------------------------------------------------------

    def operation(self, operation: Operation) -> Operation:
        """The operation as the server validates it: with a bound mutant, a copy of its document with the bound moved."""
        mutant = self.mutant
        if mutant.keyword is None or not self.mine(operation):
            return operation
        if self._operation is None:
            document = copy.deepcopy(operation.document)
            node = at_pointer(document, mutant.pointer)
            moved = self.moved_limit()
            if moved is None:
                node.pop(mutant.keyword, None)
            else:
                node[mutant.keyword] = moved
            if mutant.keyword == "minLength" and (moved is None or moved < 1):
                node.pop("pattern", None)  # a "not blank" pattern is minLength 1 said again: it goes with the bound
            self._operation = build_operation(operation.api, document, operation.path, operation.method.lower())
        return self._operation

    def moved_limit(self) -> float | None:
        mutant = self.mutant
        step = 1 if mutant.keyword in UPPER else -1
        if mutant.operator.endswith("-unchecked"):
            return None
        limit = mutant.limit + (step if mutant.operator.endswith("-off-by-one") else -step)
        return int(limit) if float(limit).is_integer() else limit

    def bound_matters(self, query: list[tuple[str, str]], raw_body: bytes) -> None:
        """A bound mutant is activated by a request whose value the moved bound judges otherwise."""
        mutant = self.mutant
        if mutant.keyword is None:
            return
        if mutant.site[0] == "query":
            values: list[Any] = [v for k, v in query if k == mutant.site[1]]
            values = [int(v) if v.lstrip("-").isdigit() else v for v in values]
        else:
            try:
                body = json.loads(raw_body) if raw_body.strip() else None
            except (ValueError, UnicodeDecodeError, RecursionError):
                return
            values = [container[key] for container, key in locate([body], mutant.site[1:])]
        moved = self.moved_limit()
        if any(violates(v, mutant.keyword, mutant.limit) != violates(v, mutant.keyword, moved) for v in values):
            self.activations += 1

    def request(self, call: Call) -> None:
        """Change what the handler reads of the request (ignored, off-by-one)."""
        mutant = self.mutant
        if mutant.operator not in ("ignored", "off-by-one"):
            return
        if mutant.site[0] == "query":
            name = mutant.site[1]
            if name not in call.query:
                return
            if mutant.operator == "ignored":
                del call.query[name]
            elif isinstance(call.query[name], int) and not isinstance(call.query[name], bool):
                call.query[name] += 1
            else:
                return
            self.activations += 1
            return
        root = [copy.deepcopy(call.body)]
        found = locate(root, mutant.site[1:])
        changed = False
        for container, key in found:
            if mutant.operator == "ignored" and isinstance(container, dict) and key in container:
                del container[key]
                changed = True
            elif mutant.operator == "off-by-one" and isinstance(container[key], int) and not isinstance(container[key], bool):
                container[key] += 1
                changed = True
        if changed:
            call.body = root[0]
            self.activations += 1

    # --- state -----------------------------------------------------------------------------------------

    def run(self, call: Call, handler: Handler) -> Reply | tuple[int, Any]:
        """The handler, with the state mutant (or the pre-image a ``before`` mutant needs) around it."""
        if self.mutant.operator == "before":
            self._pre_image(call)
        if self.mutant.family != "state":
            return handler(call)
        store = call.store
        before = Snapshot.take(store)
        scheduled = store.schedule

        def schedule(kind: str, apply: Callable[[], list[dict[str, Any]]], *, delay: float | None = None):
            return scheduled(kind, lambda: self._around(store, apply), delay=delay)

        store.schedule = schedule  # queued work of this request is mutated when it settles
        try:
            return handler(call)
        finally:
            del store.schedule
            self._mutate_state(store, before)

    def _around(self, store: Store, apply: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        before = Snapshot.take(store)
        try:
            return apply()
        finally:
            self._mutate_state(store, before)

    def _mutate_state(self, store: Store, before: Snapshot) -> None:
        found = changes(store, before)
        if not found:
            return
        operator = self.mutant.operator
        if operator == "no-op":
            restore(store, before)
            self.activations += 1
        elif operator == "partial":  # the last change of the kind it changed most (its only one, if one)
            by_kind: dict[str, list] = defaultdict(list)
            for change in [change for change in found if change.kind not in BOOKKEEPING] or found:
                by_kind[change.kind].append(change)
            most = max(by_kind.values(), key=len)
            revert(store, before, max(most, key=lambda change: change.order))
            self.activations += 1
        elif operator == "extra":
            touched = {change.key for change in found}
            last: dict[str, Any] = {}
            for change in found:
                if change.kind in BOOKKEEPING:
                    continue
                if change.kind not in last or change.order >= last[change.kind].order:
                    last[change.kind] = change
            if any([repeat(store, change, touched) for change in last.values()]):
                self.activations += 1

    def _pre_image(self, call: Call) -> None:
        """Observe the record the request addresses as it is now (its GET, of this path or the one above)."""
        path = call.operation.path
        parent = path.rstrip("/").rsplit("/", 1)[0] + ("/" if path.endswith("/") else "")
        for candidate in (path, parent):
            found = self.reads.get(candidate)
            if found is None or found[0] is call.operation:
                continue
            operation, handler = found
            names = {p.name for p in operation.parameters if p.location == "path"}
            if not names <= set(call.path):
                continue
            read = Call(operation, {k: call.path[k] for k in names}, {}, None, call.store, call.settings, call.faults,
                        call.base_url)
            try:
                result = handler(read)
            except ApiError:
                continue
            reply = result if isinstance(result, Reply) else Reply(*result)
            self._learn(reply.body, candidate)
            return

    # --- answer ----------------------------------------------------------------------------------------

    def answer(self, operation: Operation, request_key: str, reply: Reply) -> Reply:
        """The reply as the mutant makes it (a copy), after noting what it shows."""
        mutant = self.mutant
        mine = self.mine(operation)
        if mutant.operator == "before" and not mine:
            self._learn(reply.body, request_key)
        if not mine or mutant.family != "answer":
            return reply
        if mutant.operator == "emptied":
            if not 400 <= reply.status < 500 or reply.body in (None, "", {}):
                return reply
            self.activations += 1
            return Reply(reply.status, None, reply.headers)
        if str(reply.status) != mutant.site[0]:
            return reply
        root = [copy.deepcopy(reply.body)]
        self._owners = _owners(root[0])
        found = [place for site in mutant.sites for place in locate(root, site[1:])]
        changed = getattr(self, "_" + mutant.operator.replace("-", "_"))(found, request_key)
        if mutant.operator == "before":
            self._learn(reply.body, request_key)
        if not changed:
            return reply
        self.activations += 1
        return Reply(reply.status, root[0], reply.headers)

    def _learn(self, body: Any, fallback: str) -> None:
        """Note each property of each record an answer shows (for ``before``)."""
        for record in _objects(body):
            ident = identity(record, "")
            if ident:
                for key, value in record.items():
                    self.known[(ident, key)] = _kept(value)
        del fallback

    def _dropped(self, found: list[tuple[Any, Any]], request_key: str) -> bool:
        dropped = False
        for container, key in found:  # one object may sit twice in an answer (a conversation its entries share)
            if isinstance(container, dict) and key in container:
                del container[key]
                dropped = True
        return dropped

    def _other(self, found: list[tuple[Any, Any]], request_key: str) -> bool:
        """Give one value at the site the value another record had: the latest seen that differs."""
        by_value = self.seen[self.mutant.id]  # fingerprint -> (record, value), the latest last
        placed = []
        for container, key in found:
            ident = identity(container, "") or self._owners.get(id(container), request_key)
            value = container[key]
            print_ = _fingerprint(value)
            by_value.pop(print_, None)
            by_value[print_] = (ident, _kept(value))
            placed.append((container, key, ident, print_))
        for container, key, ident, print_ in placed:
            for other_print, (other, value) in reversed(by_value.items()):
                if other_print != print_ and other != ident:
                    container[key] = copy.deepcopy(value)
                    return True
        return False

    def _before(self, found: list[tuple[Any, Any]], request_key: str) -> bool:
        changed = False
        for container, key in found:
            ident = identity(container, "") if isinstance(container, dict) else ""
            if ident and (ident, key) in self.known and self.known[(ident, key)] != container[key]:
                container[key] = copy.deepcopy(self.known[(ident, key)])
                changed = True
        return changed

    def _lose_last(self, found: list[tuple[Any, Any]], request_key: str) -> bool:
        for container, key in found:
            if isinstance(container[key], list) and container[key]:
                container[key].pop()
                return True
        return False

    def _gain_foreign(self, found: list[tuple[Any, Any]], request_key: str) -> bool:
        site = self.seen[self.mutant.id]
        arrays = [container[key] for container, key in found if isinstance(container[key], list)]
        present: set[str] = set()
        for array in arrays:
            for item in array:
                ident = identity(item, _fingerprint(item))
                present.add(ident)
                site.pop(ident, None)
                site[ident] = item
        for array in arrays:
            for ident, item in reversed(site.items()):
                if ident not in present:
                    array.append(copy.deepcopy(item))
                    return True
        return False


def _owners(body: Any) -> dict[int, str]:
    """For each object and array of an answer, the record it belongs to: its own id, else its nearest
    ancestor's (an add result's ``data`` is that memory's), by ``id()`` of the object."""
    owners: dict[int, str] = {}
    todo: deque[tuple[Any, str]] = deque([(body, "")])
    while todo:
        node, owner = todo.popleft()
        if isinstance(node, dict):
            owner = identity(node, owner)
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if owner:
            owners[id(node)] = owner
        todo.extend((child, owner) for child in children)
    return owners


def _kept(value: Any) -> Any:
    """A value to keep past this answer: scalars as they are, containers copied."""
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def _objects(body: Any) -> Iterator[dict[str, Any]]:
    """Every object of an answer, outermost first (no recursion: answers can nest deeply)."""
    todo = deque([body])
    while todo:
        node = todo.popleft()
        if isinstance(node, dict):
            yield node
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
