"""Reading real news: places, datelines, report kinds, occurrence times, sites and words.

Each module is pure (text in, values out) and wraps the outside data it needs
(the administrative gazetteer, the word segmenter) behind small functions, so the
rest of responder never imports those packages directly.
"""
