"""A flow that runs in a locked conda environment, in a pod either from an image or from the shared volume.

    python flow.py env check            # is conda-lock.yml still what environment.yml declares?
    python flow.py env show             # the locked packages and the environment id, per platform
    python flow.py image                # write flowkit-image/ (Dockerfile) and print the image tag
    python flow.py run --environment conda   # locally, with conda, mamba or micromamba on PATH

`start` and `end` run from the image tagged with the environment id; `summarize` builds the same environment once
on the shared volume instead (`materialize="pvc"`), so changing the lock needs no image rebuild for it.

The committed conda-lock.yml was locked without access to conda channels: its checksums are placeholders. Run
`python flow.py env lock` (conda-lock and micromamba installed, channels reachable) before building it for real.
See docs/environments.md.
"""

from flowkit import Flow, conda, step


@conda(file="environment.yml", platforms=["linux-64", "osx-arm64"], image_repository="ghcr.io/example/flowkit-env")
class CondaEnvFlow(Flow):
    """Computes a few statistics with numpy and reports them with humanize."""

    @step
    def start(self):
        """Draw the numbers."""
        import numpy

        self.values = [float(value) for value in numpy.linspace(0.0, 1_000_000.0, num=11)]
        self.next(self.summarize)

    @conda(materialize="pvc")
    @step
    def summarize(self):
        """Summarize them in the same locked environment, built on the shared volume."""
        import humanize
        import numpy

        self.mean = float(numpy.mean(self.values))
        self.report = f"mean {humanize.intcomma(round(self.mean))} over {len(self.values)} values"
        self.next(self.end)

    @step
    def end(self):
        """Print the report."""
        print(self.report)


if __name__ == "__main__":
    CondaEnvFlow()
