"""The daemon's main loop: signals only set events; SIGTERM drains within a deadline,
SIGHUP reloads config and rules and keeps the old ones if the new ones do not
validate; the systemd watchdog is fed while the pipeline's own loop is alive."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import time

import structlog

from gateway.app import Services, build
from gateway.config.model import LoadedConfig

# logged as the wiring module, as before the main loop had a module of its own
log = structlog.get_logger("gateway.app")


async def serve(loaded: LoadedConfig) -> int:
    """Run the daemon until SIGTERM/SIGINT; return the exit status."""
    services = build(loaded)
    stop = asyncio.Event()
    hup = asyncio.Event()
    loop = asyncio.get_running_loop()
    terms = 0

    def on_term() -> None:
        nonlocal terms
        terms += 1
        if terms > 1:
            log.warning("second_signal_exit_now")
            os._exit(1)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_term)
    loop.add_signal_handler(signal.SIGHUP, hup.set)
    try:
        async with services.started():
            _settle_heap()
            services.notifier.ready()
            log.info("ready", instance=services.instance, rules=services.runtime.ruleset.version)
            watchdog = asyncio.create_task(_watchdog(services), name="watchdog")
            while not stop.is_set():
                waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(hup.wait())]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
                if hup.is_set():
                    hup.clear()
                    services.notifier.reloading()
                    await services.reloader.reload()
                    services.notifier.ready()
            services.notifier.stopping()
            log.info("stopping")
            watchdog.cancel()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    log.info("stopped")
    return 0


def _settle_heap() -> None:
    """Exempt what startup built (config, rules, parsers, imported modules) from garbage
    collection: a full collection otherwise walks all of it again and again, a
    pause of milliseconds in whatever request is running (an API page's p99)."""
    gc.collect()
    gc.freeze()


async def _watchdog(services: Services) -> None:
    """WATCHDOG=1 only while the pipeline's own loop is alive."""
    config = services.runtime.loaded.config
    interval = services.notifier.watchdog_seconds / 2 or config.lifecycle.heartbeat_seconds
    stale_after = max(3 * config.pipeline.recovery_interval_seconds, 30.0)
    while True:
        if time.monotonic() - services.pipeline.heartbeat < stale_after:
            services.notifier.watchdog()
        else:
            log.warning("pipeline_heartbeat_stale")
        services.metrics.writer_queue.set(services.writer.queue_depth)
        await asyncio.sleep(interval)
