"""The Nautilus strategies the desk ships (imported only by processes that run the engine).

``STRATEGY_CLASSES`` maps a spec type to the ``module:Class`` paths the
translator writes into an ``ImportableStrategyConfig``.
"""

STRATEGY_CLASSES: dict[str, tuple[str, str]] = {
    "mean_reversion": ("strategies.library.mean_reversion:MeanReversion", "strategies.library.mean_reversion:MeanReversionConfig"),
    "ema_cross": ("strategies.library.ema_cross:EMACrossTrend", "strategies.library.ema_cross:EMACrossTrendConfig"),
    "breakout": ("strategies.library.breakout:DonchianBreakout", "strategies.library.breakout:DonchianBreakoutConfig"),
    "market_maker": ("strategies.library.market_maker:InventoryMarketMaker", "strategies.library.market_maker:InventoryMarketMakerConfig"),
}
