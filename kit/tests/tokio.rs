//! Every kit scenario through the Tokio harness, both roles.

ws_kit::kit_tests!(ws_kit::harness::tokio::Tokio);
