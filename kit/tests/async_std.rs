//! Every kit scenario through the AsyncStd harness, both roles.

ws_kit::kit_tests!(ws_kit::harness::async_std::AsyncStd);
