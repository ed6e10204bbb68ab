"""`python -m oms.stock`: the process entrypoint (the same command the container runs)."""

from oms.platform import runner
from oms.stock.app import Settings, main

if __name__ == "__main__":
    settings = Settings()
    runner.run(lambda lifecycle: main(lifecycle, settings))
