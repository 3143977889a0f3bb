"""A service's app wrapped so a benchmark can profile exactly its load window with pyinstrument.

`uvicorn --factory bench.profiled:create_app` with BENCH_PROFILE_SERVICE=visits|notifications; then
`POST /__bench/profile/start` and `POST /__bench/profile/stop` (which writes BENCH_PROFILE_OUT). The sampler
covers the whole event-loop thread: routes, outbox relay, consumer loop, dispatcher, and the idle time.
"""

import importlib
import os
from pathlib import Path

from pyinstrument import Profiler


def create_app():
    """The service's own app, with two extra paths answered before it sees them."""
    app = importlib.import_module(f"services.{os.environ['BENCH_PROFILE_SERVICE']}.main").create_app()
    state: dict[str, Profiler] = {}

    async def profiled(scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/__bench/profile/"):
            return await app(scope, receive, send)
        if scope["path"].endswith("/start"):
            state["profiler"] = Profiler(interval=0.001, async_mode="disabled")
            state["profiler"].start()
        else:
            profiler = state.pop("profiler")
            profiler.stop()
            out = Path(os.environ["BENCH_PROFILE_OUT"])
            out.write_text(profiler.output_text(unicode=True))
            out.with_suffix(".flat.txt").write_text(profiler.output_text(unicode=True, flat=True))
            profiler.last_session.save(str(out.with_suffix(".pyisession")))  # for `pyinstrument --load`
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return profiled
