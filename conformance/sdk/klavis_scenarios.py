"""The klavis Python SDK's scenarios (``Klavis`` and ``AsyncKlavis``): the mem0 sandbox's lifecycle, with the
argument and field names of the installed version (``conformance/sdk/versions.py``)."""

from __future__ import annotations

from typing import Any

from conformance.sdk.context import Context
from conformance.verdicts import fact, require


KLAVIS = "Klavis mem0 sandbox API (`Authorization: Bearer <key>`)"


def _item(ctx: Context, user: str, text: str) -> Any:
    """One Klavis memory item, stored as written, with the field names of the installed klavis version."""
    from klavis.types import Mem0Memory, Mem0Message

    names = ctx.releases["klavis"].names
    return Mem0Memory(**{names["messages"]: [Mem0Message(role="user", content=text)], "user_id": user,
                         names["infer"]: False, names["background"]: False})


def _initializing(ctx: Context, items: list[Any]) -> dict[str, Any]:
    """The keyword arguments of ``initialize_mem0sandbox`` that carry ``items`` in the installed version."""
    names = ctx.releases["klavis"].names
    if names["initialize"] == "request":
        from klavis.types import Mem0DataInput

        return {names["default_data"]: False, "request": Mem0DataInput(**{names["items"]: items})}
    return {names["initialize"]: items}


def _texts(ctx: Context, dumped: Any) -> list[str]:
    names = ctx.releases["klavis"].names
    return [getattr(memory, names["text"]) for memory in getattr(dumped.data, names["items"]) or []]


def _sandbox_lifecycle(ctx: Context) -> None:
    from klavis.types import SandboxMcpServer

    sandbox_id = ctx.klavis.sandbox.create_sandbox(server_name=SandboxMcpServer.MEM0).sandbox_id
    ctx.track_sandbox(sandbox_id)
    got = ctx.klavis.sandbox.get_sandbox(server_name="mem0", sandbox_id=sandbox_id)
    require(got.sandbox_id == sandbox_id and str(getattr(got.status, "value", got.status)) == "occupied",
            f"get_sandbox({sandbox_id!r}) after create_sandbox answers {got.sandbox_id} {got.status}", received=got,
            documented=f"{sandbox_id} occupied", source=fact(KLAVIS))
    ctx.klavis.sandbox.initialize_mem0sandbox(sandbox_id, **_initializing(ctx, [
        _item(ctx, ctx.new_user(), "Prefers window seats")]))
    dumped = _texts(ctx, ctx.klavis.sandbox.dump_mem0sandbox(sandbox_id))
    require(dumped == ["Prefers window seats"], f"dump_mem0sandbox({sandbox_id!r}) after initialize holds {dumped}",
            received=dumped, documented=["Prefers window seats"], source=fact(KLAVIS))
    ctx.klavis.sandbox.reset_sandbox(server_name="mem0", sandbox_id=sandbox_id)
    after = _texts(ctx, ctx.klavis.sandbox.dump_mem0sandbox(sandbox_id))
    require(after == [], f"dump_mem0sandbox({sandbox_id!r}) after reset_sandbox holds {len(after)} memories",
            received=len(after), documented=0, source=fact(KLAVIS))
    status = ctx.klavis.sandbox.delete_sandbox(server_name="mem0", sandbox_id=sandbox_id).status
    require(str(getattr(status, "value", status)) == "idle", f"delete_sandbox({sandbox_id!r}) answers status {status}",
            received=status, documented="idle", source=fact(KLAVIS))


def _default_data(ctx: Context) -> None:
    from klavis.types import SandboxMcpServer

    release = ctx.releases["klavis"]
    if not release.names["default_data"]:
        import pytest

        pytest.skip(f"{release.label} cannot ask for the default data set (conformance/sdk/versions.py)")
    sandbox_id = ctx.klavis.sandbox.create_sandbox(server_name=SandboxMcpServer.MEM0).sandbox_id
    ctx.track_sandbox(sandbox_id)
    ctx.klavis.sandbox.initialize_mem0sandbox(sandbox_id, **{release.names["default_data"]: True})
    dumped = _texts(ctx, ctx.klavis.sandbox.dump_mem0sandbox(sandbox_id))
    require(len(dumped) > 0, f"dump_mem0sandbox({sandbox_id!r}) after initialize with default data is empty",
            received=len(dumped), documented="the default data set's memories", source=fact(KLAVIS))


def _async_klavis(ctx: Context) -> None:
    import asyncio

    from klavis.types import SandboxMcpServer

    item = _item(ctx, ctx.new_user(), "Takes the night train")

    async def scenario() -> dict[str, Any]:
        client = ctx.async_klavis()
        sandbox_id = (await client.sandbox.create_sandbox(server_name=SandboxMcpServer.MEM0)).sandbox_id
        ctx.track_sandbox(sandbox_id)
        got = (await client.sandbox.get_sandbox(server_name="mem0", sandbox_id=sandbox_id)).status
        await client.sandbox.initialize_mem0sandbox(sandbox_id, **_initializing(ctx, [item]))
        dumped = _texts(ctx, await client.sandbox.dump_mem0sandbox(sandbox_id))
        await client.sandbox.reset_sandbox(server_name="mem0", sandbox_id=sandbox_id)
        after = _texts(ctx, await client.sandbox.dump_mem0sandbox(sandbox_id))
        status = (await client.sandbox.delete_sandbox(server_name="mem0", sandbox_id=sandbox_id)).status
        return {"details": str(getattr(got, "value", got)), "dump": dumped, "after reset": after,
                "release": str(getattr(status, "value", status))}

    seen = asyncio.run(scenario())
    wanted = {"details": "occupied", "dump": ["Takes the night train"], "after reset": [], "release": "idle"}
    require(seen == wanted, f"AsyncKlavis: details, dump, dump after reset and release answer {seen}",
            received=seen, documented=wanted, source=fact(KLAVIS))
