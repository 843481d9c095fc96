fn main() { println!("psa-bridge-demo: available once the simulators land"); }
