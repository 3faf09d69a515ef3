"""A flow whose middle step fails, for `--with catch` and `--with retry` from the command line."""

from flowkit import FlowSpec, catch, step


class FragileFlow(FlowSpec):
    @step
    def start(self):
        print("starting")
        self.next(self.fragile, self.guarded)

    @step
    def fragile(self):
        raise ValueError("the source is down")
        self.next(self.join)

    @catch(var="own_error", print_exception=False)
    @step
    def guarded(self):
        raise KeyError("missing column")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.caught = sorted(
            f"{name}:{type(getattr(task, name)).__name__}"
            for task in inputs
            for name in ("failure", "own_error")
            if hasattr(task, name) and getattr(task, name) is not None
        )
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FragileFlow()
