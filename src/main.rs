//! git-http-backend-rs: command line and mode selection.

use git_http_backend_rs::{logging, mode};

fn main() {
    logging::init();
    let code = match mode::detect() {
        mode::Mode::Cgi => git_http_backend_rs::transport::cgi::run(),
        mode::Mode::Usage => {
            eprintln!("usage: git-http-backend-rs (run as CGI or FastCGI by a web server)");
            2
        }
    };
    std::process::exit(code);
}
