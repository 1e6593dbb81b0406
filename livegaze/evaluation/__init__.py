"""Running the live app on media with known truth, to show and measure it: the clips made from
real photos (clips), `livegaze demo`, `livegaze bench` (pipelinebench), `livegaze eval`
(quality, temporal, report). Nothing on the live path imports this package."""
