// Search ranking for the book (Sphinx's `html_search_scorer`): Sphinx's default weights,
// adjusted for readers who search for a topic.
// - A word of the query that is in a page's own title ranks that page first: every
//   lesson that mentions "truncated" in one heading scores alike in Sphinx's default,
//   and the one titled "Truncated backpropagation through time" should come first.
// - The API reference names every function, so it matches a topic's words often:
//   results on the API pages rank below results of the same strength elsewhere.
const _queryWords = () => {
  const q = new URLSearchParams(window.location.search).get("q") || "";
  return q.toLowerCase().split(/\s+/).filter((w) => w.length > 2);
};

var Scorer = {
  score: (result) => {
    const [docname, title, anchor, descr, score, filename] = result;
    const pageTitle = (title || "").split(" > ")[0].toLowerCase();
    let s = score;
    if (!anchor && _queryWords().some((w) => pageTitle.includes(w))) s += 20;
    if (docname.startsWith("book/api_")) s -= 10;
    return s;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: {0: 15, 1: 5, 2: -5},
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
