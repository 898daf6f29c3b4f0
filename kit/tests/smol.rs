//! Every kit scenario through the Smol harness, both roles.

ws_kit::kit_tests!(ws_kit::harness::async_std::Smol);
