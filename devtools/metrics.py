"""A process's Prometheus metrics, read from its ops port (`/metrics`) as a scraper would."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from devtools.platform import ServiceProcess


@dataclass(frozen=True)
class Samples:
    """One scrape: every sample by name, with its labels."""

    samples: tuple[tuple[str, tuple[tuple[str, str], ...], float], ...]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels` (0 if none)."""
        wanted = set(labels.items())
        return sum(
            value
            for sample_name, sample_labels, value in self.samples
            if sample_name == name and wanted <= set(sample_labels)
        )

    def by(self, name: str, label: str) -> dict[str, float]:
        """The samples named `name`, summed by the value of one of their labels."""
        sums: dict[str, float] = {}
        for sample_name, sample_labels, value in self.samples:
            if sample_name == name:
                key = dict(sample_labels).get(label, "")
                sums[key] = sums.get(key, 0.0) + value
        return sums


def parse(text: str) -> Samples:
    return Samples(
        tuple(
            (sample.name, tuple(sorted(sample.labels.items())), float(sample.value))
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        )
    )


async def scrape(process: ServiceProcess) -> Samples:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(process.metrics_url)
    response.raise_for_status()
    return parse(response.text)


async def rpc_calls(process: ServiceProcess, method: str, code: str = "OK") -> int:
    """How many calls of `method` (e.g. `PaymentService/CloseCheckout`) the process served."""
    samples = await scrape(process)
    full = f"/oms.contracts.v1.{method}"
    return int(samples.value("oms_rpc_server_seconds_count", method=full, code=code))
