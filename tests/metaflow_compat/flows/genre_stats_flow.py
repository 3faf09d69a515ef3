"""Per-genre statistics with a foreach, written as a Metaflow tutorial flow would be (own data, own code)."""

from flowkit import FlowSpec, Parameter, step

MOVIES = [
    ("Alien", "scifi", 1979, 8.5),
    ("Arrival", "scifi", 2016, 7.9),
    ("Heat", "crime", 1995, 8.3),
    ("Fargo", "crime", 1996, 8.1),
    ("Brazil", "comedy", 1985, 7.9),
]


class GenreStatsFlow(FlowSpec):
    min_year = Parameter("min_year", help="Ignore movies released before this year.", default=1900)
    fail_at_end = Parameter("fail_at_end", help="Fail in the end step (to leave a failed run).", default=False)

    @step
    def start(self):
        self.movies = [movie for movie in MOVIES if movie[2] >= self.min_year]
        self.genres = sorted({movie[1] for movie in self.movies})
        self.next(self.compute_statistics, foreach="genres")

    @step
    def compute_statistics(self):
        self.genre = self.input
        scores = [score for _, genre, _, score in self.movies if genre == self.genre]
        self.mean_score = round(sum(scores) / len(scores), 2)
        print(f"{self.genre}: {self.mean_score}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.genre_stats = {task.genre: task.mean_score for task in inputs}
        self.next(self.end)

    @step
    def end(self):
        if self.fail_at_end:
            raise RuntimeError("asked to fail")
        self.best_genre = max(self.genre_stats, key=self.genre_stats.get)


if __name__ == "__main__":
    GenreStatsFlow()
