//! `smb`: a command-line SMB2/3 client. See `smb --help`.

fn main() {
    std::process::exit(smb_examples::cli::main_with_args(std::env::args_os()));
}
