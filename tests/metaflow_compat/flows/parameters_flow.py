"""Every kind of Metaflow parameter a ported flow declares: JSON, included files, lists, dashed names."""

from flowkit import FlowSpec, IncludeFile, JSONType, Parameter, metaflow_version, step


class ParametersFlow(FlowSpec):
    settings = Parameter("settings", type=JSONType, default='{"depth": 3, "tags": ["a"]}', help="Model settings.")
    movies = IncludeFile("movies", default="movies.csv", help="The movie table.")
    blob = IncludeFile("blob", is_text=False, help="Any binary file.")
    genres = Parameter("genres", separator=",", default="drama,comedy", help="Genres to keep.")
    years = Parameter("years", type=int, separator=":", default="1990:2000")
    learning_rate = Parameter("learning-rate", default=0.5, show_default=False)

    @step
    def start(self):
        self.version = metaflow_version.get_version()
        self.rows = [line.split(",") for line in self.movies.strip().splitlines()[1:]]
        self.next(self.end)

    @step
    def end(self):
        self.kept = [title for title, genre in self.rows if genre in self.genres]
        self.summary = {
            "depth": self.settings["depth"],
            "genres": self.genres,
            "years": self.years,
            "learning_rate": self.learning_rate,
            "blob": self.blob,
        }


if __name__ == "__main__":
    ParametersFlow()
