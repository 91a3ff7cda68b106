"""The latency monitor (LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR) and
per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats).

Events are Redis 7.0's: "command" and "fast-command" (every command, by its
`fast` flag), "command-unblocking" (serving a blocked client), "expire-cycle"
(the cron's active expiry), "eviction-cycle" (one round of evictions). A
sample is kept only when `latency-monitor-threshold` is on and the latency
(ms) reaches it; each event keeps its last 160 samples, one per second (the
worst of that second), and its all-time maximum. Redis lists events in hash
order; flowcache lists them in the order they first happened.

Histograms copy Redis's hdr_histogram (2 significant digits, 1 ns to 1 s)
bucket for bucket, so LATENCY HISTOGRAM and the INFO percentiles print the
same bucket bounds Redis prints for the same durations.

Entry points:
    record(state, event, duration_ms)                    any event (commands, cron, eviction)
    monitor_of(state).histogram(name).record_us(us)      a call's run time (the dispatcher)
    record_unblocked(state, spec, call_us, serve_us)     when a key serves a blocked call
"""

from __future__ import annotations

from typing import Any

TS_LEN = 160  # LATENCY_TS_LEN
GRAPH_COLUMNS = 80
HISTOGRAM_MIN_NS = 1
HISTOGRAM_MAX_NS = 1_000_000_000
SMALL_US = 1024  # durations below this are counted per microsecond, bucketed when reported
INFO_PERCENTILES = (50.0, 99.0, 99.9)  # latency-tracking-info-percentiles default


class TimeSeries:
    __slots__ = ("times", "latencies", "idx", "max")

    def __init__(self) -> None:
        self.times = [0] * TS_LEN
        self.latencies = [0] * TS_LEN
        self.idx = 0
        self.max = 0

    def add(self, now_s: int, latency: int) -> None:
        """Redis's latencyAddSample: one sample per second, the worst of it."""
        if latency > self.max:
            self.max = latency
        prev = (self.idx + TS_LEN - 1) % TS_LEN
        if self.times[prev] == now_s:
            if latency > self.latencies[prev]:
                self.latencies[prev] = latency
            return
        self.times[self.idx] = now_s
        self.latencies[self.idx] = latency
        self.idx = (self.idx + 1) % TS_LEN

    def samples(self) -> list[tuple[int, int]]:
        """(time, latency) oldest first."""
        order = [(self.idx + j) % TS_LEN for j in range(TS_LEN)]
        return [(self.times[i], self.latencies[i]) for i in order if self.times[i]]

    def latest(self) -> tuple[int, int]:
        last = (self.idx + TS_LEN - 1) % TS_LEN
        return self.times[last], self.latencies[last]


class Histogram:
    """hdr_histogram(1 ns, 1 s, 2 digits) of one command's run times.

    Recording is on the dispatcher's hot path, so durations under SMALL_US
    are counted per microsecond in a list (finer than hdr's buckets there)
    and folded into hdr buckets only when a report asks.
    """

    __slots__ = ("small", "large")

    def __init__(self) -> None:
        self.small = [0] * SMALL_US  # count per duration in us
        self.large: dict[int, int] = {}  # hdr bucket (its lowest ns) -> count

    def record_us(self, duration_us: int) -> None:
        if 0 <= duration_us < SMALL_US:
            self.small[duration_us] += 1
        else:
            ns = min(max(duration_us * 1000, HISTOGRAM_MIN_NS), HISTOGRAM_MAX_NS)
            low = lowest_equivalent(ns)
            self.large[low] = self.large.get(low, 0) + 1

    def buckets(self) -> list[tuple[int, int]]:
        """(lowest ns of an hdr bucket, count), in value order."""
        counts: dict[int, int] = {}
        for us, count in enumerate(self.small):
            if count:
                low = lowest_equivalent(max(us * 1000, HISTOGRAM_MIN_NS))
                counts[low] = counts.get(low, 0) + count
        for low, count in self.large.items():
            counts[low] = counts.get(low, 0) + count
        return sorted(counts.items())

    @property
    def total(self) -> int:
        return sum(self.small) + sum(self.large.values())

    def cdf_usec(self) -> list[int]:
        """LATENCY HISTOGRAM's flat [usec, cumulative count, ...], Redis's log iteration.

        Reporting levels are 1024 ns doubling; each reports the highest value
        its bucket holds and how many durations fall at or below it, and only
        levels where that count grew are listed.
        """
        buckets = self.buckets()
        total = sum(count for _, count in buckets)
        out: list[int] = []
        cumulative = previous = 0
        i = 0
        level = 1024
        while True:
            while i < len(buckets) and buckets[i][0] <= level:
                cumulative += buckets[i][1]
                i += 1
            if cumulative > previous:
                out += (highest_equivalent(level) // 1000, cumulative)
            previous = cumulative
            if cumulative >= total:
                return out
            level *= 2

    def value_at_percentile(self, percentile: float) -> int:
        """hdr_value_at_percentile, in ns."""
        buckets = self.buckets()
        requested = min(percentile, 100.0)
        wanted = max(int(requested / 100 * sum(count for _, count in buckets) + 0.5), 1)
        seen = 0
        for low, count in buckets:
            seen += count
            if seen >= wanted:
                return low if percentile == 0.0 else highest_equivalent(low)
        return 0


def _bucket(value: int) -> int:
    return max((value | 255).bit_length() - 8, 0)


def lowest_equivalent(value: int) -> int:
    bucket = _bucket(value)
    return (value >> bucket) << bucket


def highest_equivalent(value: int) -> int:
    return lowest_equivalent(value) + (1 << _bucket(value)) - 1


class LatencyMonitor:
    """One server's events and histograms, with its threshold cached."""

    __slots__ = ("events", "histograms", "threshold", "state")

    def __init__(self, state: Any) -> None:
        self.state = state
        self.events: dict[str, TimeSeries] = {}
        self.histograms: dict[str, Histogram] = {}  # full command name -> histogram
        self.threshold = state.config.get("latency-monitor-threshold", 0)
        state.config.on_change("latency-monitor-threshold", self._set_threshold)

    def _set_threshold(self, value: int) -> None:
        self.threshold = value

    def histogram(self, name: str) -> "Histogram":
        """The histogram of the command with this full name, made empty if it had none.

        An empty one (a command refused, or blocked and never served) is not
        shown: Redis makes a histogram only when it first counts into it.
        """
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = Histogram()
        return histogram

    def add_sample(self, event: str, latency_ms: int) -> None:
        series = self.events.get(event)
        if series is None:
            series = self.events[event] = TimeSeries()
        series.add(self.state.now_ms // 1000, latency_ms)

    def reset(self, event: str | None) -> int:
        """Drop one event (case-insensitive, as Redis's strcasecmp) or all; how many went."""
        if event is None:
            count = len(self.events)
            self.events.clear()
            return count
        wanted = event.lower()
        gone = [name for name in self.events if name.lower() == wanted]
        for name in gone:
            del self.events[name]
        return len(gone)


def monitor_of(state: Any) -> LatencyMonitor:
    """The server's latency monitor, created on first use."""
    monitor = state.__dict__.get("latency")
    if monitor is None:
        monitor = state.latency = LatencyMonitor(state)
    return monitor


def record(state: Any, event: str, duration_ms: int) -> None:
    """latencyAddSampleIfNeeded: keep the sample if the monitor is on and it is slow enough."""
    monitor = monitor_of(state)
    threshold = monitor.threshold
    if threshold and duration_ms >= threshold:
        monitor.add_sample(event, duration_ms)


def record_unblocked(state: Any, spec: Any, call_us: int, serve_us: int) -> None:
    """A blocked command was served: its histogram gets its run time (the call plus the
    serving, not the wait) and the serving is a "command-unblocking" sample."""
    monitor_of(state).histogram(spec.name).record_us(call_us + serve_us)
    record(state, "command-unblocking", serve_us // 1000)


# -- reports ------------------------------------------------------------------


def graph(event: str, series: TimeSeries, now_s: int) -> bytes:
    """LATENCY GRAPH: Redis's sparkline of the samples, labelled with their age."""
    samples = series.samples()
    values = [latency for _, latency in samples]
    low, high = (min(values), max(values)) if values else (0, 0)
    labels = [_age_label(now_s - when) for when, _ in samples]
    head = "%s - high %d ms, low %d ms (all time high %d ms)\n" % (event, high, low, series.max)
    return (head + "-" * GRAPH_COLUMNS + "\n" + _sparkline(values, labels)).encode()


def _age_label(elapsed: int) -> str:
    if elapsed < 60:
        return "%ds" % elapsed
    if elapsed < 3600:
        return "%dm" % (elapsed // 60)
    if elapsed < 86400:
        return "%dh" % (elapsed // 3600)
    return "%dd" % (elapsed // 86400)


_CHARSET_FILL = "_o#"


def _sparkline(values: list[int], labels: list[str], rows: int = 4) -> str:
    """sparklineRender(..., 80 columns, 4 rows, SPARKLINE_FILL) from Redis's sparkline.c."""
    out = []
    for start in range(0, len(values), GRAPH_COLUMNS):
        if start:
            out.append("\n")
        out.append(_sparkline_range(values, labels, start, min(GRAPH_COLUMNS, len(values) - start),
                                    rows))
    return "".join(out)


def _sparkline_range(values: list[int], labels: list[str], offset: int, length: int,
                     rows: int) -> str:
    low = float(min(values))
    relmax = float(max(values)) - low or 1.0
    charset_len = len(_CHARSET_FILL)
    steps = charset_len * rows
    out = []
    row = 0
    while True:
        looping = False
        chars = [" "] * length
        for j in range(length):
            value = values[offset + j]
            step = int(int((value - low) * steps) / relmax)
            step = min(max(step, 0), steps - 1)
            if row < rows:
                looping = True
                index = step - (rows - row - 1) * charset_len
                if 0 <= index < charset_len:
                    chars[j] = _CHARSET_FILL[index]
                elif index >= charset_len:
                    chars[j] = "|"
            else:
                if labels and row - rows < 1:  # one blank row above the labels
                    looping = True
                    chars = [" "] * length
                    break
                label = labels[offset + j]
                label_char = row - rows - 1
                if len(label) > label_char:
                    looping = True
                    chars[j] = label[label_char]
        if not looping:
            return "".join(out)
        row += 1
        out.append("".join(chars) + "\n")


def doctor(state: Any) -> bytes:
    """LATENCY DOCTOR, Redis 7.0's report for the events flowcache can have.

    Transparent huge pages are never reported: the answer must not depend
    on the machine (simulation replays it anywhere).
    """
    monitor = monitor_of(state)
    config = state.config
    threshold = monitor.threshold
    if not monitor.events and threshold == 0:
        return (b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
                b"instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" "
                b"in order to enable it. If we weren't in a deep space mission I'd suggest to "
                b"take a look at https://redis.io/topics/latency-monitor.\n")
    slower_than = config.get("slowlog-log-slower-than", 10000)
    hz = config.get("hz", 10)
    advice: dict[str, bool] = {}
    advices = 0
    report = []
    now_s = state.now_ms // 1000
    for number, (event, series) in enumerate(monitor.events.items(), 1):
        if number == 1:
            report.append("Dave, I have observed latency spikes in this Redis instance. "
                          "You don't mind talking about it, do you Dave?\n\n")
        count, avg, mad, period = _analyze(series, now_s)
        report.append("%d. %s: %d latency spikes (average %dms, mean deviation %dms, "
                      "period %.2f sec). Worst all time event %dms." % (
                          number, event, count, avg, mad, period / count if count else float("nan"),
                          series.max))
        name = event.lower()
        if name == "command":
            if slower_than < 0:
                advice["slowlog_enabled"] = True
                advices += 1
            elif slower_than // 1000 > threshold:
                advice["slowlog_tuning"] = True
                advices += 1
            advice["slowlog_inspect"] = advice["large_objects"] = True
            advices += 2
        elif name == "fast-command":
            advice["scheduler"] = True
            advices += 1
        elif name == "expire-cycle":
            advice["hz"] = advice["large_objects"] = True
            advices += 2
        elif name == "eviction-del":
            advice["large_objects"] = True
            advices += 1
        elif name == "eviction-cycle":
            advice["mass_eviction"] = True
            advices += 1
        report.append("\n")
    if not monitor.events and advices == 0:
        report.append("Dave, no latency spike was observed during the lifetime of this Redis "
                      "instance, not in the slightest bit. I honestly think you ought to sit "
                      "down calmly, take a stress pill, and think things over.\n")
    elif advices == 0:
        report.append("\nWhile there are latency events logged, I'm not able to suggest any easy "
                      "fix. Please use the Redis community to get some help, providing this "
                      "report in your help request.\n")
    else:
        report.append("\nI have a few advices for you:\n\n")
        report += [text % (threshold * 1000) if "%" in text else text
                   for key, text in _ADVICE if advice.get(key)
                   and (key != "hz" or hz < 100)]
    return "".join(report).encode()


def _analyze(series: TimeSeries, now_s: int) -> tuple[int, int, int, int]:
    """analyzeLatencyForEvent: samples, integer average, mean absolute deviation, period."""
    samples = series.samples()
    if not samples:
        return 0, 0, 0, 0
    latencies = [latency for _, latency in samples]
    avg = sum(latencies) // len(latencies)
    mad = sum(abs(avg - latency) for latency in latencies) // len(latencies)
    period = now_s - min(when for when, _ in samples) or 1
    return len(samples), avg, mad, period


# Advice in the order Redis prints it; "%d" takes latency-monitor-threshold * 1000.
_ADVICE = (
    ("slowlog_enabled", "- There are latency issues with potentially slow commands you are "
     "using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET "
     "slowlog-log-slower-than %d'. If the Slow log is disabled Redis is not able to log slow "
     "commands execution for you.\n"),
    ("slowlog_tuning", "- Your current Slow Log configuration only logs events that are slower "
     "than your configured latency monitor threshold. Please use 'CONFIG SET "
     "slowlog-log-slower-than %d'.\n"),
    ("slowlog_inspect", "- Check your Slow Log to understand what are the commands you are "
     "running which are too slow to execute. Please check https://redis.io/commands/slowlog "
     "for more information.\n"),
    ("scheduler", "- The system is slow to execute Redis code paths not containing system "
     "calls. This usually means the system does not provide Redis CPU time to run for long "
     "periods. You should try to:\n"
     "  1) Lower the system load.\n"
     "  2) Use a computer / VM just for Redis if you are running other software in the same "
     "system.\n"
     "  3) Check if you have a \"noisy neighbour\" problem.\n"
     "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in "
     "your system.\n"
     "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if "
     "you are using Jemalloc. However this may create fragmentation problems.\n"),
    ("hz", "- In order to make the Redis keys expiring process more incremental, try to set "
     "the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n"),
    ("large_objects", "- Deleting, expiring or evicting (because of maxmemory policy) large "
     "objects is a blocking operation. If you have very large objects that are often deleted, "
     "expired, or evicted, try to fragment those objects into multiple smaller objects.\n"),
    ("mass_eviction", "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or "
     "allocation of large objects via sets or sorted sets intersections, STORE option of SORT, "
     "Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure "
     "forcing the server to block trying to evict keys. \n"),
)


def histogram_reply(histogram: Histogram) -> Any:
    from cache.reply import Map

    cdf = histogram.cdf_usec()
    return Map([(b"calls", histogram.total),
                (b"histogram_usec", Map(list(zip(cdf[::2], cdf[1::2]))))])


def info_latencystats(state: Any) -> list[str]:
    """INFO latencystats lines: `latency_percentiles_usec_<cmd>:p50=..,p99=..,p99.9=..`."""
    monitor = monitor_of(state)
    lines = []
    for name, histogram in monitor.histograms.items():
        if not histogram.total:
            continue
        fields = ",".join("p%s=%.3f" % (_trim_double(p), histogram.value_at_percentile(p) / 1000.0)
                          for p in INFO_PERCENTILES)
        lines.append("latency_percentiles_usec_%s:%s" % (name, fields))
    return lines


def _trim_double(value: float) -> str:
    """sprintf("%f") with trailing zeros (and a bare '.') removed, as trimDoubleString."""
    text = "%f" % value
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def reset_histograms(state: Any) -> None:
    """CONFIG RESETSTAT: Redis drops every command's histogram with the command stats.

    They are emptied in place (the dispatcher's routes hold them); an empty
    one is not shown.
    """
    for histogram in monitor_of(state).histograms.values():
        histogram.small[:] = [0] * SMALL_US
        histogram.large.clear()
