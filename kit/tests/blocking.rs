//! Every kit scenario through the Blocking harness, both roles.

ws_kit::kit_tests!(ws_kit::harness::blocking::Blocking);
