//! `smb`: a command-line SMB2/3 client. See `smb --help`.

fn main() {
    smb_examples::interrupt::install();
    std::process::exit(smb_examples::run::main_with_args(std::env::args_os()));
}
