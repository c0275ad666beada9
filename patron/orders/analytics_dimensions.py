"""Products as a sales-analytics dimension: the pipeline app groups opportunities by the
products on their line items without importing this app."""

from __future__ import annotations


def register_analytics_dimensions() -> None:
    from patron.pipeline.analytics import Dimension, register_dimension

    register_dimension(
        Dimension(
            key="product",
            label="Product",
            value="line_items__product_id",
            display="line_items__product__name",
            # A deal with several products counts once under each of them.
            many=True,
        )
    )
