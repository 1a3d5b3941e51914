# check=error=true
FROM alpine:3.20
USER app
CMD echo "hello"
