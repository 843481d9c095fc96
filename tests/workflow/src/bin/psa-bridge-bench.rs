fn main() { println!("psa-bridge-bench: available once the simulators land"); }
