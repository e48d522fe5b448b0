# shadowmesh's container image: built in one stage, run from a distroless base as a non-root user.
#   docker build -t shadowmesh:0.1.0 .
# (Not built by CI: the project's machines reach no container registry. Kept conventional on purpose.)

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not rebuild them; with the profile-guided build's
# wrapper and profile (.cargo/, pgo/), or they would be built, and kept, without it.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY pgo pgo
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked && rm -rf src
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin shadowmesh \
    && strip target/release/shadowmesh

# glibc and CA certificates, no shell, no package manager; uid 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/shadowmesh /usr/local/bin/shadowmesh
USER 65532:65532
EXPOSE 15001 15000
ENTRYPOINT ["/usr/local/bin/shadowmesh"]
CMD ["run", "--kubernetes", "--listen=0.0.0.0:15001", "--admin=0.0.0.0:15000"]
