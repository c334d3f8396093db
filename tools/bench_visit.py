"""``python3 build.py bench --only visit``: a visit, not a page view; and a phone-class CPU.

1. **The second page view of a visit.** A fresh browser profile opens the embed page and gets
   its first answer (a first visit); the same tab then opens another page of the site, which
   asks the same question while it also times a plain ``fetch`` round trip to the same server
   (the floor: what any answer on that page costs at least). Reported: the second page view's
   time to its first ``onEngagement``, that round trip, their ratio, and whether the answer was
   reused from the page's storage (``fromCache``).
2. **Phone-class.** The first visit's figures of the floor (a), naive Pyodide (b) and the embed
   (c) with the page's CPU slowed 4 times (Chrome DevTools' ``Emulation.setCPUThrottlingRate``),
   in a fresh profile each. The embed's worker cannot be throttled the same way: DevTools
   answers "Operation is only supported for pages, not workers" for a dedicated worker target,
   and a worker's CPU time is only slowed as a side effect of its page's (about 2x when 4x is
   asked, measured on a busy loop), so (c) is, if anything, flattered by this figure.

Bytes of a first and a repeat visit are in the start-up section (rows (c) and (c) second
visit: what the server sent, encoded). Example::

    results = run(playwright, "http://127.0.0.1:8000", counter, runs=3)
    print(render(results))
"""

from __future__ import annotations

import tempfile
from typing import Any

from tools.chromium import CHROMIUM, CHROMIUM_ARGS

__all__ = ["PHONE_THROTTLE", "render", "run"]

#: How many times slower the page's CPU runs for the phone-class figure.
PHONE_THROTTLE = 4
#: The second page of a visit, in tools/bench_pages/ (served at /bench/visit2.html).
SECOND_PAGE = "/bench/visit2.html"


def _second_page_view(playwright: Any, base: str, first_page: str) -> dict[str, Any]:
    from tools.bench import BOOT_TIMEOUT_MS, INIT_SCRIPT

    with tempfile.TemporaryDirectory(prefix="engage-bench-visit-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context.add_init_script(INIT_SCRIPT)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(base + first_page, wait_until="commit")
            page.wait_for_function(
                "window.__bench && window.__bench.answerAt !== null", timeout=BOOT_TIMEOUT_MS
            )
            page.goto(base + SECOND_PAGE, wait_until="commit")
            page.wait_for_function(
                "window.__visit && __visit.answerAt !== null && __visit.fetchAt !== null",
                timeout=BOOT_TIMEOUT_MS,
            )
            data = page.evaluate("({...window.__visit})")
        except Exception as exc:  # a run that fails is reported, not fatal
            return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        finally:
            context.close()
    return {
        "answer_ms": round(data["answerAt"], 1),
        "round_trip_ms": round(data["fetchAt"], 1),
        "from_cache": bool(data["fromCache"]),
        "status": data["status"],
    }


def _phone(playwright: Any, base: str, counter: Any, pages: dict[str, str]) -> dict[str, Any]:
    from tools.bench import INIT_SCRIPT, _measure_page

    samples: dict[str, Any] = {}
    for key in ("a", "b", "c"):
        with tempfile.TemporaryDirectory(prefix="engage-bench-phone-") as profile:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            context.add_init_script(INIT_SCRIPT)
            try:
                samples[key] = _measure_page(
                    context, base + pages[key], counter, throttle=PHONE_THROTTLE
                )
            finally:
                context.close()
    return samples


def run(playwright: Any, base: str, counter: Any, runs: int, pages: dict[str, str]) -> dict:
    """Interleaved runs of both measurements; every sample kept."""
    from tools.bench import summarize

    second: list[dict[str, Any]] = []
    phone: dict[str, list[dict[str, Any]]] = {}
    for number in range(runs):
        sample = _second_page_view(playwright, base, pages["c"])
        second.append(sample)
        print(f"[bench] visit {number + 1}/{runs}: second page view {sample}", flush=True)
        for key, value in _phone(playwright, base, counter, pages).items():
            phone.setdefault(key, []).append(value)
            shown = value.get("error") or f"{value.get('answer_ms')} ms"
            print(f"[bench] phone {number + 1}/{runs} {key}: {shown}", flush=True)
    ok = [s for s in second if "error" not in s and s.get("status") == "Available"]
    summary = {
        "second_page_view": {
            "answer_ms": summarize(s["answer_ms"] for s in ok),
            "round_trip_ms": summarize(s["round_trip_ms"] for s in ok),
            "from_cache": sum(s["from_cache"] for s in ok),
            "ok": len(ok),
            "runs": len(second),
        },
        "phone": {
            key: summarize(
                s.get("answer_ms") for s in values
                if "error" not in s and s.get("status") == "Available"
            )
            for key, values in phone.items()
        },
        "throttle": PHONE_THROTTLE,
        "samples": {"second_page_view": second, "phone": phone},
    }
    spv = summary["second_page_view"]
    answer, trip = spv["answer_ms"]["median"], spv["round_trip_ms"]["median"]
    summary["ratios"] = {
        "second_page_view/round_trip": round(answer / trip, 2) if answer and trip else None,
        "phone c/b": _ratio(summary["phone"].get("c"), summary["phone"].get("b")),
        "phone c/a": _ratio(summary["phone"].get("c"), summary["phone"].get("a")),
    }
    return summary


def _ratio(top: dict | None, bottom: dict | None) -> float | None:
    a = (top or {}).get("median")
    b = (bottom or {}).get("median")
    return round(a / b, 3) if a and b else None


def render(results: dict[str, Any]) -> str:
    """The visit section as printed lines."""
    spv = results["second_page_view"]
    phone = results["phone"]
    lines = [
        "",
        "a visit (fresh profile; the second page view in the same tab)",
        f"second page view: first answer {spv['answer_ms']['median']} ms (median), plain "
        f"round trip on that page {spv['round_trip_ms']['median']} ms; reused from storage in "
        f"{spv['from_cache']}/{spv['ok']} runs",
        f"phone-class (page CPU x{results['throttle']}; the worker is not throttled by DevTools):"
        f" (a) {phone.get('a', {}).get('median')} ms, (b) {phone.get('b', {}).get('median')} ms,"
        f" (c) {phone.get('c', {}).get('median')} ms",
        "ratios: " + "  ".join(f"{k} = {v}" for k, v in results["ratios"].items()),
    ]
    return "\n".join(lines)
