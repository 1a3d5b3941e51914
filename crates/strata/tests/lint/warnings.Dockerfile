FROM node:latest as Build
WORKDIR app
COPY . .
RUN npm ci
CMD npm start
