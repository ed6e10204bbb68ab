"""`python -m oms.gateway`: the process entrypoint (the same command the container runs)."""

from oms.gateway.app import Settings, main
from oms.platform import runner

if __name__ == "__main__":
    settings = Settings()
    runner.run(lambda lifecycle: main(lifecycle, settings))
