"""NER pre-labeling: an abstract's manifest line -> its first-page image, abstract text and metadata."""
