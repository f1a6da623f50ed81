fn main() {
    std::process::exit(letterpress::run());
}
