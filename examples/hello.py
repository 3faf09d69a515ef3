"""The smallest useful flow: three steps in a line, one parameter, artifacts passed along.

python examples/hello.py run --name Ada
python examples/hello.py show
"""

from flowkit import Flow, Parameter, current, kubernetes, step


@kubernetes(image="python:3.11-slim", cpu="500m", memory="512Mi")
class HelloFlow(Flow):
    """Greets someone, then counts the letters of the greeting."""

    name = Parameter("name", default="world", help="Who to greet.")

    @step
    def start(self):
        """Build the greeting."""
        self.greeting = f"Hello, {self.name}!"
        print(f"{current.flow_name}/{current.run_id}: {self.greeting}")
        self.next(self.count)

    @step
    def count(self):
        """Count the letters: a later step sees what earlier steps set."""
        self.letters = sum(character.isalpha() for character in self.greeting)
        self.next(self.end)

    @step
    def end(self):
        """Report."""
        print(f"{self.greeting!r} has {self.letters} letters")


if __name__ == "__main__":
    HelloFlow()
