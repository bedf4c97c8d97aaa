"""``digitrec-serve``: a local web app for live reading and labelled capture in the browser."""
